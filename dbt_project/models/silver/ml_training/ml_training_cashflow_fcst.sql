{#- Daily cash-in series for the cash-flow forecast, one row per stream and day with
    calendar features: the AR invoices' clearings (USD reporting amounts; the AR feed is a
    US business, so only weekends shape it) and the SME's settled customer payments (VND;
    Vietnamese holidays and the Tết break shape it). Days without cash are zeros, not gaps.
    The calendar runs `cashflow_forecast_horizon_days` past the newest data (cash_in null,
    is_future true) so the forecast has the holiday flags of the days it predicts. A model
    trained as of day D reads only cash_date <= D. -#}
{{ config(materialized='table') }}

with cash as (
    select
        'ar_invoices' as stream,
        payment_date as cash_date,
        {{ exact_sum('amount_reporting') }} as cash_in
    from {{ ref('stg_ar_invoices') }}
    where not is_open
    group by payment_date
    union all
    select
        'sme_payments' as stream,
        settled_date as cash_date,
        sum(amount_vnd) as cash_in
    from {{ ref('stg_payments') }}
    where status = 'paid' and settled_date is not null
    group by settled_date
),

delivered_through as (  -- each stream's newest delivery
    select
        'ar_invoices' as stream,
        max(valid_from) as data_through
    from {{ ref('stg_ar_invoice_history') }}
    union all
    select
        'sme_payments' as stream,
        max(delivered_on) as data_through
    from {{ ref('stg_payments') }}
),

spans as (  -- a stream's data runs to its newest delivery, even when that day had no cash
    select
        c.stream,
        min(c.cash_date) as first_day,
        greatest(max(c.cash_date), max(t.data_through)) as last_day
    from cash as c
    inner join delivered_through as t on c.stream = t.stream
    group by c.stream
),

calendar as (
    select
        s.stream,
        d.date_day as cash_date,
        d.date_day > s.last_day as is_future
    from spans as s
    inner join {{ ref('dim_date') }} as d
        on
            d.date_day between s.first_day
            and {{ dbt.dateadd('day', var('cashflow_forecast_horizon_days'), 's.last_day') }}
),

holidays as (
    select
        cast(holiday_date as date) as holiday_date,
        max(holiday_group) as holiday_group
    from {{ ref('vn_holidays') }}
    group by holiday_date
)

select
    k.stream,
    case k.stream when 'ar_invoices' then '{{ var("reporting_currency") }}' else 'VND' end as currency,
    k.cash_date,
    {{ date_key('k.cash_date') }} as cash_date_key,
    k.is_future,
    case when not k.is_future then coalesce(c.cash_in, 0) end as cash_in,
    extract(isodow from k.cash_date) as iso_day_of_week,
    extract(isodow from k.cash_date) in (6, 7) as is_weekend,
    extract(day from k.cash_date) as day_of_month,
    k.cash_date = cast({{ dbt.last_day('k.cash_date', 'month') }} as date) as is_month_end,
    -- the Vietnamese calendar applies to the SME's own stream only
    k.stream = 'sme_payments' and h.holiday_date is not null as is_holiday,
    k.stream = 'sme_payments' and coalesce(h.holiday_group = 'tet', false) as is_tet_holiday
from calendar as k
left join cash as c on k.stream = c.stream and k.cash_date = c.cash_date
left join holidays as h on k.cash_date = h.holiday_date
