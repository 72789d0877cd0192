{#- A stable hash key from several columns (like dbt_utils' generate_surrogate_key, without the package). -#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- yyyymmdd integer key into dim_date. -#}
{% macro date_key(column) -%}
    cast(extract(year from {{ column }}) * 10000 + extract(month from {{ column }}) * 100 + extract(day from {{ column }}) as integer)
{%- endmacro %}
