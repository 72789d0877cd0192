{#- Business rules of AR used by more than one model: one definition each. -#}

{#- An invoice's size within its ledger: against the business's own thresholds for the ledger
    (ledger_threshold), else the ledger's own for its posting month (ftr_ledger_size_thresholds,
    joined as `thresholds`), in the ledger's currency; a ledger with neither is bracketed by the
    fixed reporting-currency thresholds. -#}
{% macro invoice_size_bracket(amount, amount_reporting, business_code, thresholds='thresholds') -%}
    {{ ledger_bracket(
        amount, business_code, thresholds, ['small_below', 'medium_below'], ['small', 'medium', 'large'],
        amount_reporting, [var('invoice_size_small_below'), var('invoice_size_medium_below')]
    ) }}
{%- endmacro %}

{#- Of three brackets (`labels`), the one `value` falls in: below the ledger's first threshold
    (`names[0]`: the business's own, ledger_threshold, else the column of `thresholds`), below its
    second, or from it up; where the ledger has neither, `fixed_value` against `fixed`. -#}
{% macro ledger_bracket(value, business_code, thresholds, names, labels, fixed_value, fixed) -%}
    {%- set low = ledger_threshold(business_code, names[0], thresholds ~ '.' ~ names[0]) -%}
    {%- set high = ledger_threshold(business_code, names[1], thresholds ~ '.' ~ names[1]) -%}
    case
        when {{ low }} is null then
            case
                when {{ fixed_value }} < {{ fixed[0] }} then '{{ labels[0] }}'
                when {{ fixed_value }} < {{ fixed[1] }} then '{{ labels[1] }}'
                else '{{ labels[2] }}'
            end
        when {{ value }} < {{ low }} then '{{ labels[0] }}'
        when {{ value }} < {{ high }} then '{{ labels[1] }}'
        else '{{ labels[2] }}'
    end
{%- endmacro %}

{#- A threshold the business set for the ledger `business_code` (var ledger_thresholds, from
    SMEPULSE_LEDGER_THRESHOLDS_FILE), else `derived`. -#}
{% macro ledger_threshold(business_code, name, derived) -%}
    {%- set given = var('ledger_thresholds') -%}
    {%- set given = fromjson(given) if given is string else given -%}
    {%- set set_by_business = [] -%}
    {%- for code, values in given.items() if name in values -%}
        {%- do set_by_business.append((code | replace("'", "''"), values[name])) -%}
    {%- endfor -%}
    {%- if set_by_business -%}
        case {{ business_code }}
            {%- for code, value in set_by_business %} when '{{ code }}' then {{ value }}{% endfor %}
            else {{ derived }}
        end
    {%- else -%}
        {{ derived }}
    {%- endif -%}
{%- endmacro %}

{#- The join that brings an invoice's ledger thresholds (see invoice_size_bracket). -#}
{% macro join_size_thresholds(invoice, thresholds='thresholds') -%}
    left join {{ ref('ftr_ledger_size_thresholds') }} as {{ thresholds }}
        on
            {{ invoice }}.business_code = {{ thresholds }}.business_code
            and {{ invoice }}.currency = {{ thresholds }}.currency
            and cast(date_trunc('month', {{ invoice }}.invoice_date) as date) = {{ thresholds }}.posting_month
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

{#- The four aging buckets with their display order, as rows (every bucket appears every day). -#}
{% macro aging_buckets() -%}
    select '0-30' as aging_bucket, 1 as bucket_order
    union all select '31-60', 2
    union all select '61-90', 3
    union all select '90+', 4
{%- endmacro %}

{#- Days sales/payable outstanding: a balance over the average daily flow of the trailing window. -#}
{% macro days_outstanding(balance, trailing_flow, window_days) -%}
    round({{ balance }} / nullif({{ trailing_flow }} / {{ window_days }}, 0), 2)
{%- endmacro %}

{#- Days in the trailing window ending on `day`: `window` days, fewer while history since
    `first_day` is shorter (so the first weeks are not inflated). -#}
{% macro trailing_window_days(first_day, day, window) -%}
    least({{ window }}, {{ dbt.datediff(first_day, day, 'day') }} + 1)
{%- endmacro %}

{#- When an open invoice is still expected to be paid, from a predicted date: the prediction
    itself, or the next day once that date has passed (the invoice is still open on `day`,
    so its cash has not come and is due from tomorrow). -#}
{% macro still_expected(predicted_date, day) -%}
    greatest({{ predicted_date }}, cast({{ dbt.dateadd('day', 1, day) }} as date))
{%- endmacro %}

{#- Collection priority within a day: amount at risk (probability of paying more than 30 days
    late x open amount) first, the document id breaking ties, so the rank is a total order. -#}
{% macro collection_priority_order(scores) -%}
    partition by {{ scores }}.score_date
    order by {{ scores }}.probability_over_30_late * {{ scores }}.open_amount desc, {{ scores }}.doc_id
{%- endmacro %}

{#- Each customer's ledger: the company code of its first invoice (ties: the first code), so a
    customer invoiced by two ledgers is segmented among one ledger's customers, the same on
    every day. -#}
{% macro customer_ledgers() -%}
    (
        select
            customer_number,
            arg_min(business_code, strftime(valid_from, '%Y%m%d') || business_code) as business_code
        from {{ live_invoice_history() }}
        where state_version = 1
        group by customer_number
    )
{%- endmacro %}

{#- A customer's value segment by what it was invoiced to date: against the business's own
    thresholds for its ledger `business_code` (ledger_threshold), else the ledger's of the month
    (`thresholds`, a row of ftr_ledger_value_thresholds), else the fixed ones. -#}
{% macro value_segment(invoiced, business_code, thresholds) -%}
    {{ ledger_bracket(
        invoiced, business_code, thresholds, ['mid_from', 'key_from'], ['small', 'mid', 'key'],
        invoiced, [var('value_segment_mid_from'), var('value_segment_key_from')]
    ) }}
{%- endmacro %}
