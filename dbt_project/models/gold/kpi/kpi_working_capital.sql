{#- Working capital per day, with the formulas of the analytics report over a trailing window
    (var working_capital_window_days, shorter at the start of history):
      DSO = AR outstanding / (revenue of the window / window days)
      DPO = AP outstanding / (cost of goods sold of the window / window days)
      CCC = DSO + DIO - DPO
    AR outstanding = orders invoiced to date - payments collected to date (an overpayment is a
    customer credit and lowers it); AP outstanding = supplier bills received to date - bills paid
    to date. DIO (days inventory outstanding) is explicit: the SME world has no stock source, so
    it is the var inventory_days. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

{% set window_days = var('working_capital_window_days') %}

with flows as (
    select
        order_date as flow_date,
        revenue_vnd as invoiced,
        cost_vnd as cogs,
        0 as collected,
        0 as billed,
        0 as bills_paid
    from {{ ref('fact_orders') }}
    union all
    select
        settled_date,
        0,
        0,
        amount_vnd,
        0,
        0
    from {{ ref('fact_payments') }}
    where status = 'paid'
    union all
    select
        bill_date,
        0,
        0,
        0,
        amount_vnd,
        0
    from {{ ref('stg_supplier_bills') }}
    union all
    select
        paid_date,
        0,
        0,
        0,
        0,
        amount_vnd
    from {{ ref('stg_supplier_bills') }}
    where paid_date is not null
),

first_day as (
    select min(order_date) as first_order_date from {{ ref('fact_orders') }}
),

history as (  -- every day from the first order to the window's end, so trailing windows are exact
    select d.date_day as as_of_date
    from {{ ref('dim_date') }} as d
    cross join first_day as f
    where d.date_day between f.first_order_date and {{ snapshot_last_day('(select max(flow_date) from flows)') }}
),

daily as (
    select
        h.as_of_date,
        coalesce(sum(f.invoiced), 0) as invoiced,
        coalesce(sum(f.cogs), 0) as cogs,
        coalesce(sum(f.collected), 0) as collected,
        coalesce(sum(f.billed), 0) as billed,
        coalesce(sum(f.bills_paid), 0) as bills_paid
    from history as h
    left join flows as f on h.as_of_date = f.flow_date
    group by h.as_of_date
),

running as (
    select
        d.as_of_date,
        sum(invoiced - collected) over (
            order by as_of_date rows unbounded preceding
        ) as ar_outstanding_vnd,
        sum(billed - bills_paid) over (
            order by as_of_date rows unbounded preceding
        ) as ap_outstanding_vnd,
        sum(invoiced)
            over (
                order by as_of_date rows between {{ window_days - 1 }} preceding and current row
            )
            as trailing_revenue_vnd,
        sum(cogs)
            over (
                order by as_of_date rows between {{ window_days - 1 }} preceding and current row
            )
            as trailing_cogs_vnd,
        {{ trailing_window_days('f.first_order_date', 'd.as_of_date', window_days) }} as window_days
    from daily as d
    cross join first_day as f
),

measured as (
    select
        *,
        {{ days_outstanding('ar_outstanding_vnd', 'trailing_revenue_vnd', 'window_days') }} as dso_days,
        {{ days_outstanding('ap_outstanding_vnd', 'trailing_cogs_vnd', 'window_days') }} as dpo_days,
        {{ var('inventory_days') }} as inventory_days
    from running
    where {{ in_partition_window('as_of_date') }}
)

select
    as_of_date,
    {{ date_key('as_of_date') }} as as_of_date_key,
    ar_outstanding_vnd,
    trailing_revenue_vnd,
    ap_outstanding_vnd,
    trailing_cogs_vnd,
    window_days,
    dso_days,
    dpo_days,
    inventory_days,
    dso_days + inventory_days - dpo_days as ccc_days
from measured
