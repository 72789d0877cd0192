{#- The optional fields a receivables ledger may deliver beside the contract's (the optional
    columns of smepulse_assets/sources/kaggle_invoices.yaml): each bronze column, the silver
    column it becomes and its type. A ledger without them (the Kaggle file) has them null. -#}
{% macro ar_extras() -%}
    {{ return([
        {'bronze': 'disputed', 'name': 'is_disputed', 'type': 'boolean'},
        {'bronze': 'paperless', 'name': 'is_paperless', 'type': 'boolean'},
        {'bronze': 'channel', 'name': 'channel', 'type': 'varchar'},
        {'bronze': 'sales_rep', 'name': 'sales_rep', 'type': 'varchar'},
    ]) }}
{%- endmacro %}

{#- The extras as typed nulls in their bronze names: the columns of a delivery without them. -#}
{% macro ar_extras_as_null() -%}
    {%- for extra in ar_extras() -%}
        cast(null as {{ extra.type }}) as {{ extra.bronze }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- The silver names of the extras. -#}
{% macro ar_extra_names() -%}
    {{ return(ar_extras() | map(attribute='name') | list) }}
{%- endmacro %}

{#- The hash of an invoice state: its contract columns, and its extras where it has any. A state
    with no extras hashes as it did before extras existed, so the versions of a warehouse built
    then stay the same versions (a changed hash would read as a change of every invoice). -#}
{% macro invoice_state_hash(columns) -%}
    {%- set extras = ar_extra_names() -%}
    case
        when {% for extra in extras %}{{ extra }} is null{% if not loop.last %} and {% endif %}{% endfor %}
            then {{ surrogate_key(columns) }}
        else {{ surrogate_key(columns + extras) }}
    end
{%- endmacro %}
