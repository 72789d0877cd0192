{#- Re-delivery: a day's delivery is the full state of that day's postings and updates, and a
    new delivery of the day replaces the earlier one (bronze replaces the day's partition). What
    the earlier delivery carried and the new one does not is withdrawn, in every model built
    from it. Two kinds of model:

    - keyed by entity, with the day each row's state was delivered (`delivered_on`): a window
      rebuilds the keys its deliveries carry *and* those the model holds from a window day (the
      earlier delivery), and deletes those of them nothing delivers any more;
    - on the AR invoice history (stg_ar_invoice_history), which keeps a withdrawn state as a
      retracted row, valid from the window day it was delivered on. -#}

{#- Whether `relation` (built) has `column`: a table from before a column was added has not. -#}
{% macro built_with_column(relation, column) -%}
    {%- set existing = adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
    {%- if existing is none -%}{{ return(false) }}{%- endif -%}
    {{ return(column in (adapter.get_columns_in_relation(existing) | map(attribute='name') | list)) }}
{%- endmacro %}

{#- The keys an entity model rebuilds in a window, as a condition on `key_expression`: those the
    window's rows of `delivered` carry (`delivered_day`: their day column) and those this model
    holds from a window day (`held_key`, `held_days`: its key and day columns), which a
    re-delivery may have withdrawn or put back to an earlier day's state. -#}
{% macro redelivered_keys(key_expression, delivered, delivered_day, held_key, held_days=['delivered_on']) -%}
    {{ key_expression }} in (
        select {{ key_expression }} from {{ delivered }} where {{ in_partition_window(delivered_day) }}
        {%- if execute and built_with_column(this, held_days[0]) %}
        union
        select {{ held_key }} from {{ this }}
        where {% for day in held_days %}{{ in_partition_window(day) }}{% if not loop.last %} or {% endif %}{% endfor %}
        {%- endif %}
    )
{%- endmacro %}

{#- Pre-hook of an entity model: keys it holds from a window day that `delivered` (a bronze
    table, or the staging model a fact is built on) no longer has at all are deleted;
    delete+insert by key only replaces the keys its new rows carry. -#}
{% macro delete_undelivered(held_key, delivered, delivered_key, held_days=['delivered_on']) -%}
    {%- if execute and built_with_column(this, held_days[0]) -%}
        {%- set windows = [] -%}
        {%- for day in held_days %}{% do windows.append(in_partition_window(day)) %}{% endfor -%}
        {{ delete_from_built_model(
            "(" ~ windows | join(' or ') ~ ") and " ~ held_key ~ " not in (select " ~ delivered_key
            ~ " from " ~ delivered ~ " where " ~ delivered_key ~ " is not null)"
        ) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{#- The invoice states in force: the history without its withdrawn rows. -#}
{% macro live_invoice_history() -%}
    (select * from {{ ref('stg_ar_invoice_history') }} where is_retracted is not true)
{%- endmacro %}

{#- Pre-hook of a model keyed by `column` (doc_id, customer_number) with delete+insert: the keys
    the window withdrew whole, with no state left in force, are deleted. delete+insert replaces
    only the keys its new rows carry, so a key that is gone would otherwise stay. -#}
{% macro delete_withdrawn(column) -%}
    {%- set history = ref('stg_ar_invoice_history') -%}
    {{ delete_from_built_model(
        column ~ " in (select " ~ column ~ " from " ~ history ~ " where is_retracted and "
        ~ in_partition_window('valid_from') ~ ") and " ~ column ~ " not in (select " ~ column
        ~ " from " ~ history ~ " where not is_retracted)"
    ) }}
{%- endmacro %}

{#- True when the window withdrew an invoice state: models that continue a short window from
    their record before it recompute the touched customers whole instead, since a withdrawal
    changes what that record was built from. -#}
{% macro window_withdrew_invoices() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query(
        "select count(*) from " ~ ref('stg_ar_invoice_history') ~ " where is_retracted and "
        ~ in_partition_window('valid_from')
    ) -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
