{#- Customer behaviour per account and business day, as of the end of that day (never the
    wall clock; only orders placed and payments settled by then): RFM over the last 365 days
    with quintile scores, order and payment counts, payment completion rate (orders of the
    last 365 days fully paid by the day), the account's attributes in force that day, its
    age, and a behaviour segment (VIP, Active, New, At Risk, Inactive). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with days as (
    {{ model_days("(select min(valid_from) from " ~ ref('stg_customers') ~ " where is_retracted is not true)", "select max(order_date) from " ~ ref('stg_orders')) }}
),

accounts as (  -- the version of each account in force at the end of each day
    select
        d.as_of_date,
        c.*
    from days as d
    inner join {{ ref('stg_customers') }} as c
        on
            {{ in_force_on('c', 'd.as_of_date') }}
            and c.is_retracted is not true
),

orders as (
    select
        order_id,
        customer_code,
        order_date,
        sum(revenue_vnd) as order_revenue_vnd
    from {{ ref('stg_orders') }}
    group by order_id, customer_code, order_date
),

paid_by_order as (  -- settled payments per order and settlement day
    select
        order_id,
        settled_date,
        status,
        sum(amount_vnd) as amount_vnd
    from {{ ref('stg_payments') }}
    where status = 'paid'
    group by order_id, settled_date, status
),

order_history as (  -- each account-day with its orders of the trailing 365 days and what was paid by then
    select
        a.as_of_date,
        a.customer_code,
        o.order_id,
        o.order_date,
        o.order_revenue_vnd,
        coalesce(sum(p.amount_vnd), 0) as paid_by_day_vnd
    from accounts as a
    inner join orders as o
        on
            a.customer_code = o.customer_code
            and o.order_date between {{ dbt.dateadd('day', -364, 'a.as_of_date') }} and a.as_of_date
    left join paid_by_order as p
        on o.order_id = p.order_id and p.status = 'paid' and a.as_of_date >= p.settled_date
    group by a.as_of_date, a.customer_code, o.order_id, o.order_date, o.order_revenue_vnd
),

order_features as (
    select
        as_of_date,
        customer_code,
        count(*) as orders_ltm,
        sum(order_revenue_vnd) as revenue_ltm_vnd,
        max(order_date) as last_order_date,
        sum(case when paid_by_day_vnd >= order_revenue_vnd - 1 then 1 else 0 end) as orders_paid_ltm
    from order_history
    group by as_of_date, customer_code
),

payment_features as (
    select
        a.as_of_date,
        a.customer_code,
        count(*) filter (where p.status = 'paid' and p.settled_date <= a.as_of_date) as payments_paid_ltm,
        count(*) filter (where p.status = 'failed' and p.settled_date <= a.as_of_date) as payments_failed_ltm,
        count(*) filter (where p.settled_date is null or p.settled_date > a.as_of_date) as payments_pending
    from accounts as a
    inner join {{ ref('stg_payments') }} as p
        on
            a.customer_code = p.customer_code
            and p.payment_date between {{ dbt.dateadd('day', -364, 'a.as_of_date') }} and a.as_of_date
    group by a.as_of_date, a.customer_code
),

first_orders as (
    select
        customer_code,
        min(order_date) as first_order_date
    from orders
    group by customer_code
),

opened as (
    select
        customer_code,
        min(valid_from) as opened_on
    from {{ ref('stg_customers') }}
    where is_retracted is not true
    group by customer_code
),

combined as (
    select
        a.as_of_date,
        a.customer_code,
        a.segment as account_segment,
        a.province_code,
        a.country_code,
        a.credit_limit_vnd,
        a.payment_terms_days,
        {{ dbt.datediff('op.opened_on', 'a.as_of_date', 'day') }} as customer_age_days,
        case when f.first_order_date <= a.as_of_date then f.first_order_date end as first_order_date,
        o.last_order_date,
        {{ dbt.datediff('o.last_order_date', 'a.as_of_date', 'day') }} as recency_days,
        coalesce(o.orders_ltm, 0) as frequency_ltm,
        coalesce(o.revenue_ltm_vnd, 0) as monetary_ltm_vnd,
        round(o.revenue_ltm_vnd / nullif(o.orders_ltm, 0), 0) as avg_order_value_vnd,
        coalesce(o.orders_paid_ltm, 0) as orders_paid_ltm,
        round(coalesce(o.orders_paid_ltm, 0) * 1.0 / nullif(o.orders_ltm, 0), 4) as payment_completion_rate,
        coalesce(p.payments_paid_ltm, 0) as payments_paid_ltm,
        coalesce(p.payments_failed_ltm, 0) as payments_failed_ltm,
        coalesce(p.payments_pending, 0) as payments_pending
    from accounts as a
    left join order_features as o on a.as_of_date = o.as_of_date and a.customer_code = o.customer_code
    left join payment_features as p on a.as_of_date = p.as_of_date and a.customer_code = p.customer_code
    left join first_orders as f on a.customer_code = f.customer_code
    left join opened as op on a.customer_code = op.customer_code
)

select
    *,
    {{ date_key('as_of_date') }} as as_of_date_key,
    -- quintile scores among the accounts with orders that day (5 = best)
    case when frequency_ltm > 0 then ntile(5) over (
        partition by as_of_date, frequency_ltm > 0
        order by recency_days desc, customer_code asc
    ) end as recency_score,
    case when frequency_ltm > 0 then ntile(5) over (
        partition by as_of_date, frequency_ltm > 0
        order by frequency_ltm, customer_code
    ) end as frequency_score,
    case when frequency_ltm > 0 then ntile(5) over (
        partition by as_of_date, frequency_ltm > 0
        order by monetary_ltm_vnd, customer_code
    ) end as monetary_score,
    case
        when frequency_ltm = 0 and customer_age_days < 30 then 'New'
        when frequency_ltm = 0 or recency_days > 90 then 'Inactive'
        when monetary_ltm_vnd >= {{ var('vip_revenue_ltm_vnd') }} and recency_days <= 30 then 'VIP'
        when frequency_ltm >= 10 and recency_days <= 30 then 'Active'
        when customer_age_days < 30 then 'New'
        else 'At Risk'
    end as behavior_segment
from combined
