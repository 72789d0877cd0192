{#- What makes a key customer depends on the business: for each ledger and month, the median and
    the 90th percentile of what the ledger's customers had been invoiced (reporting currency, each
    invoice at its first delivered amount) before the month began. A customer's ledger is the
    company code of its first invoice. Below the median is a small customer, from the 90th
    percentile a key one (dim_ar_customer). Point in time: a month reads only deliveries made
    before it began, so once computed its thresholds never change, and a rerun, a short window
    and a backfill segment a customer alike. A ledger with fewer than
    var('value_segment_min_customers') such customers has no row for the month: its customers
    are segmented by the fixed thresholds (vars value_segment_mid_from / value_segment_key_from). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_from_built_model('segment_month >= ' ~ first_window_month()) }}"
) }}

with months as (  -- months of the deliveries so far
    {{ months_to_compute('segment_month', 'valid_from', ref('stg_ar_invoice_history')) }}
),

monthly as (  -- what each customer was invoiced per month of delivery, before the last month read
    select
        customer_number,
        cast(date_trunc('month', valid_from) as date) as delivered_month,
        {{ exact_sum('amount_reporting') }} as invoiced
    from {{ live_invoice_history() }}
    where state_version = 1 and valid_from < (select max(segment_month) from months)
    group by customer_number, delivered_month
),

to_date as (  -- invoiced up to the end of each month of delivery
    select
        customer_number,
        delivered_month,
        sum(invoiced) over (
            partition by customer_number
            order by delivered_month
            rows unbounded preceding
        ) as invoiced_to_date
    from monthly
),

customers as (
    select
        customer_number,
        business_code
    from {{ customer_ledgers() }}
    where customer_number in (select customer_number from monthly)
),

before_month as (  -- each customer known before a month, with what it had been invoiced by then
    select
        m.segment_month,
        c.business_code,
        t.invoiced_to_date
    from months as m
    cross join customers as c
    asof inner join to_date as t
        on
            c.customer_number = t.customer_number
            and m.segment_month > t.delivered_month
)

select
    segment_month,
    business_code,
    count(*) as customers_used,
    round(quantile_cont(invoiced_to_date, 0.5), 2) as mid_from,
    round(quantile_cont(invoiced_to_date, 0.9), 2) as key_from
from before_month
group by segment_month, business_code
having count(*) >= {{ var('value_segment_min_customers') }}
