{#- Business rules of AR used by more than one model: one definition each. -#}

{% macro invoice_size_bracket(amount) -%}
    case
        when {{ amount }} < {{ var('invoice_size_small_below') }} then 'small'
        when {{ amount }} < {{ var('invoice_size_medium_below') }} then 'medium'
        else 'large'
    end
{%- endmacro %}

{#- Aging of an open invoice by days past due; not yet due counts as current (0-30). -#}
{% macro aging_bucket(days_overdue) -%}
    case
        when {{ days_overdue }} <= 30 then '0-30'
        when {{ days_overdue }} <= 60 then '31-60'
        when {{ days_overdue }} <= 90 then '61-90'
        else '90+'
    end
{%- endmacro %}
