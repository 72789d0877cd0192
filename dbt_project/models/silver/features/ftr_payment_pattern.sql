{#- Payment pattern per customer and business day, as of the end of that day, over payments
    initiated in the last 365 days: preferred method (most paid payments; ties by name), days
    between payments, success rate of settled attempts, days from order to payment and days
    late against the order's due date. Customers without payments in the window have no row. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with days as (
    {{ model_days("(select min(payment_date) from " ~ ref('stg_payments') ~ ")", "select max(payment_date) from " ~ ref('stg_payments')) }}
),

order_dates as (
    select distinct
        order_id,
        order_date,
        due_date
    from {{ ref('stg_orders') }}
),

payments as (
    select
        p.*,
        o.order_date,
        o.due_date
    from {{ ref('stg_payments') }} as p
    left join order_dates as o on p.order_id = o.order_id
),

known as (  -- each payment as it stood at the end of each day
    select
        d.as_of_date,
        p.customer_code,
        p.payment_id,
        p.method_code,
        p.payment_date,
        p.order_date,
        p.due_date,
        case when p.settled_date <= d.as_of_date then p.status else 'pending' end as status_then,
        p.settled_date
    from days as d
    inner join payments as p
        on p.payment_date between {{ dbt.dateadd('day', -364, 'd.as_of_date') }} and d.as_of_date
),

paid as (
    select
        *,
        {{ dbt.datediff('lag(settled_date) over (partition by as_of_date, customer_code order by settled_date, payment_id)', 'settled_date', 'day') }} as days_since_previous
    from known
    where status_then = 'paid'
),

method_rank as (
    select
        as_of_date,
        customer_code,
        method_code,
        row_number() over (
            partition by as_of_date, customer_code
            order by count(*) desc, method_code
        ) as rank
    from paid
    group by as_of_date, customer_code, method_code
),

attempts as (
    select
        as_of_date,
        customer_code,
        count(*) as payments_ltm,
        count(*) filter (where status_then = 'paid') as paid_ltm,
        count(*) filter (where status_then = 'failed') as failed_ltm,
        count(*) filter (where status_then = 'pending') as pending
    from known
    group by as_of_date, customer_code
),

timing as (
    select
        as_of_date,
        customer_code,
        avg(days_since_previous) as avg_days_between_payments,
        stddev_samp(days_since_previous) as stddev_days_between_payments,
        avg({{ dbt.datediff('order_date', 'settled_date', 'day') }}) as avg_days_order_to_payment,
        avg({{ dbt.datediff('due_date', 'settled_date', 'day') }}) as avg_days_late,
        avg(case when settled_date <= due_date then 1.0 else 0.0 end) as on_time_share
    from paid
    group by as_of_date, customer_code
)

select
    a.as_of_date,
    {{ date_key('a.as_of_date') }} as as_of_date_key,
    a.customer_code,
    m.method_code as preferred_method,
    a.payments_ltm,
    a.paid_ltm,
    a.failed_ltm,
    a.pending,
    round(a.paid_ltm * 1.0 / nullif(a.paid_ltm + a.failed_ltm, 0), 4) as payment_success_rate,
    round(t.avg_days_between_payments, 2) as avg_days_between_payments,
    round(t.stddev_days_between_payments, 2) as stddev_days_between_payments,
    round(t.avg_days_order_to_payment, 2) as avg_days_order_to_payment,
    round(t.avg_days_late, 2) as avg_days_late,
    round(t.on_time_share, 4) as on_time_share
from attempts as a
left join method_rank as m on a.as_of_date = m.as_of_date and a.customer_code = m.customer_code and m.rank = 1
left join timing as t on a.as_of_date = t.as_of_date and a.customer_code = t.customer_code
