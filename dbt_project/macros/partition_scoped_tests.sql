{#- Tests judge the partition the run materialized. A model that declares
    `meta: {partition_column: <day column>}` has its generic tests run over the
    window's rows only when Dagster passes a window (SMEPULSE_WINDOW_* env); a
    plain `dbt build` still tests whole tables. Rows outside the window were
    tested by the runs that wrote them, so a day costs the same late in history
    as early. A model keyed by something else that a run rewrites key by key
    (delete+insert of the keys the window delivered) declares
    `meta: {window_keys: {key: <column>, delivered_in: <bronze source table>}}`: its
    tests judge the rows of the keys the window's deliveries hold, except
    relationships tests, which stay whole-table (a rebuilt dimension could leave an
    untouched row's key dangling). This overrides dbt's get_where_subquery, keeping
    its `where` config. -#}
{% macro get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if window_bound('START') -%}
        {%- set column = model_meta(relation, 'partition_column') -%}
        {%- set keys = model_meta(relation, 'window_keys') -%}
        {%- if column -%}
            {%- do filters.append(in_partition_window(column)) -%}
        {%- elif keys and not is_relationships_test() -%}
            {%- do filters.append(delivered_in_window(keys)) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if filters -%}
        (select * from {{ relation }} where {{ filters | join(' and ') }}) dbt_subquery
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- A meta value of the model behind a relation (none for sources and seeds). -#}
{% macro model_meta(relation, key) -%}
    {%- if execute and relation.identifier -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.alias == relation.identifier and node.schema == relation.schema -%}
                {{ return((node.config.meta or {}).get(key)) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The keys a windowed run rewrote: those in the window's deliveries of a bronze source. -#}
{% macro delivered_in_window(keys) -%}
    {{ keys.key }} in (select {{ keys.key }} from {{ source('bronze', keys.delivered_in) }} where {{ in_partition_window('partition_date') }})
{%- endmacro %}

{#- True while rendering a relationships test (the test node being compiled). -#}
{% macro is_relationships_test() -%}
    {{ return(execute and (model.get('test_metadata') or {}).get('name') == 'relationships') }}
{%- endmacro %}
