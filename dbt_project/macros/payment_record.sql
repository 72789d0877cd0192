{#- The total days late behind a stored average (avg_days_late = total / invoices paid): days
    late are whole days, so the rounded product is the total exactly. Lets a short window
    continue a customer's record from its last stored row. -#}
{% macro days_late_to_date(avg_days_late, invoices_paid) -%}
    coalesce(cast(round({{ avg_days_late }} * {{ invoices_paid }}) as bigint), 0)
{%- endmacro %}
