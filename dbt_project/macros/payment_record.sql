{#- The total days late behind a stored average (avg_days_late = total / invoices paid): days
    late are whole days, so the rounded product is the total exactly. Lets a short window
    continue a customer's record from its last stored row. -#}
{% macro days_late_to_date(avg_days_late, invoices_paid) -%}
    coalesce(cast(round({{ avg_days_late }} * {{ invoices_paid }}) as bigint), 0)
{%- endmacro %}

{#- The states a short window continues a customer's record from: every state of the invoices
    the window changed (an earlier state decides what a change adds, e.g. whether a clearing is
    the invoice's first). -#}
{% macro changed_in_window(history) -%}
    doc_id in (select doc_id from {{ history }} where {{ in_partition_window('valid_from') }})
{%- endmacro %}
