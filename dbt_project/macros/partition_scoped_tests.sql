{#- Tests judge the partition the run materialized. A model that declares
    `meta: {partition_column: <day column>}` has its generic tests run over the
    window's rows only when Dagster passes a window (SMEPULSE_WINDOW_* env); a
    plain `dbt build` still tests whole tables. Rows outside the window were
    tested by the runs that wrote them, so a day costs the same late in history
    as early. This overrides dbt's get_where_subquery, keeping its `where` config. -#}
{% macro get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set column = model_meta(relation, 'partition_column') -%}
    {%- if column and window_bound('START') -%}
        {%- do filters.append(in_partition_window(column)) -%}
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
