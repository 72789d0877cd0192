{#- The daily AR KPIs of kpi_ar_dso_analysis (all ledgers together, reporting currency) and
    kpi_ar_ledger_daily (per ledger and currency, the ledger's own amounts): one definition, so
    a ledger's figures and the consolidated ones cannot drift apart. `by`: the grouping columns
    besides the day; `amount`: the amount column summed; `also`: more sums of the day's snapshot
    rows (name -> expression), in the same pass, as columns after the others. DSO's trailing
    window starts at the group's own first invoice. -#}
{% macro ar_daily_kpis(by=[], amount='amount_reporting', also={}) -%}
{%- set window_days = var('dso_window_days') -%}
{%- set keys = by | join(', ') ~ (', ' if by else '') -%}
with snapshot as (
    select * from {{ ref('ftr_invoice_risk') }}
    where {{ in_partition_window('as_of_date') }}
),

daily as (
    select
        as_of_date,
        {{ keys }}
        sum(case when invoice_date = as_of_date then 1 else 0 end) as invoices_posted,
        {{ exact_sum('case when invoice_date = as_of_date then ' ~ amount ~ ' else 0 end') }} as invoiced_amount,
        sum(case when status = 'paid' then 1 else 0 end) as invoices_paid,
        {{ exact_sum("case when status = 'paid' then " ~ amount ~ " else 0 end") }} as paid_amount,
        sum(case when status = 'open' then 1 else 0 end) as open_invoices,
        {{ exact_sum("case when status = 'open' then " ~ amount ~ " else 0 end") }} as open_amount,
        sum(case when status = 'open' and days_overdue > 0 then 1 else 0 end) as overdue_invoices,
        {{ exact_sum("case when status = 'open' and days_overdue > 0 then " ~ amount ~ " else 0 end") }} as overdue_amount,
        sum(case when status = 'open' and is_overdue_30 then 1 else 0 end) as overdue_30_invoices,
        sum(case when status = 'open' and is_overdue_60 then 1 else 0 end) as overdue_60_invoices,
        sum(case when is_high_risk then 1 else 0 end) as high_risk_invoices,
        avg(case when status = 'open' and days_overdue > 0 then days_overdue end) as avg_days_overdue
        {%- for name, expression in also.items() %},
        {{ exact_sum(expression) }} as {{ name }}
        {%- endfor %}
    from snapshot
    group by as_of_date {% for c in by %}, {{ c }}{% endfor %}
),

sales as (  -- credit sales by posting day, reaching back one DSO window before the first day
    select
        {{ keys }}
        invoice_date,
        {{ exact_sum(amount) }} as invoiced
    from {{ ref('stg_ar_invoices') }}
    where invoice_date between {{ dbt.dateadd('day', 1 - window_days, window_start()) }} and {{ window_end() }}
    group by {{ keys }} invoice_date
),

history_start as (
    select
        {{ keys }}
        min(invoice_date) as first_invoice_date
    from {{ ref('stg_ar_invoices') }}
    {% if by %}group by {{ by | join(', ') }}{% endif %}
),

trailing_sales as (
    select
        d.as_of_date,
        {% for c in by %}d.{{ c }}, {% endfor %}
        coalesce({{ exact_sum('s.invoiced') }}, 0) as trailing_invoiced_amount,
        {{ trailing_window_days('h.first_invoice_date', 'd.as_of_date', window_days) }} as dso_window_days
    from daily as d
    inner join history_start as h on true {{ same_keys(by, 'd', 'h') }}
    left join sales as s
        on s.invoice_date between {{ dbt.dateadd('day', 1 - window_days, 'd.as_of_date') }} and d.as_of_date
        {{ same_keys(by, 'd', 's') }}
    group by d.as_of_date, {% for c in by %}d.{{ c }}, {% endfor %}h.first_invoice_date
)

select
    d.as_of_date,
    {{ date_key('d.as_of_date') }} as as_of_date_key,
    {% for c in by %}d.{{ c }},
    {% endfor -%}
    d.invoices_posted,
    round(d.invoiced_amount, 2) as invoiced_amount,
    d.invoices_paid,
    round(d.paid_amount, 2) as paid_amount,
    d.open_invoices,
    round(d.open_amount, 2) as open_amount,
    d.overdue_invoices,
    round(d.overdue_amount, 2) as overdue_amount,
    d.overdue_30_invoices,
    d.overdue_60_invoices,
    d.high_risk_invoices,
    round(d.avg_days_overdue, 2) as avg_days_overdue,
    round(t.trailing_invoiced_amount, 2) as trailing_invoiced_amount,
    t.dso_window_days,
    {{ days_outstanding('d.open_amount', 't.trailing_invoiced_amount', 't.dso_window_days') }} as dso_days
    {%- for name in also %},
    d.{{ name }}
    {%- endfor %}
from daily as d
inner join trailing_sales as t on d.as_of_date = t.as_of_date {{ same_keys(by, 'd', 't') }}
{%- endmacro %}

{#- ` and left.c = right.c` for each grouping column `c`. -#}
{% macro same_keys(by, left, right) -%}
    {% for c in by %} and {{ left }}.{{ c }} = {{ right }}.{{ c }}{% endfor %}
{%- endmacro %}
