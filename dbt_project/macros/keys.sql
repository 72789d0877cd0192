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

{#- A ledger's invoice number as a document id of its own: from 10^17 up (beyond the numbers
    delivered files carry), from the md5 of the ledger-qualified number, so two ledgers' numbers
    never meet. -#}
{% macro ledger_doc_id(qualified_number) -%}
    (100000000000000000 + cast('0x' || left(md5({{ qualified_number }}), 15) as bigint))
{%- endmacro %}
