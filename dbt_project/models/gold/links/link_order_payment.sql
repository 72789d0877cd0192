{#- Orders and the payments allocated to them: one row per (order, paid payment), and one
    row with no payment for an order nothing has been paid on. The order's status compares
    what was paid with what was ordered: matched (paid in full), partial (less), unmatched
    (nothing paid, or a payment whose order is unknown), amount_mismatch (paid more).
    order_row = 1 marks one row per order, so order amounts can be summed once. -#}
{{ config(materialized='table') }}

with orders as (
    select
        order_id,
        min(order_date) as order_date,
        min(customer_code) as customer_code,
        sum(revenue_vnd) as order_amount_vnd
    from {{ ref('fact_orders') }}
    group by order_id
),

paid as (
    select
        payment_id,
        order_id,
        settled_date,
        amount_vnd
    from {{ ref('fact_payments') }}
    where status = 'paid'
),

pairs as (
    select
        coalesce(o.order_id, p.order_id) as order_id,
        p.payment_id,
        o.order_date,
        o.customer_code,
        o.order_amount_vnd,
        p.settled_date,
        p.amount_vnd as payment_amount_vnd,
        o.order_id is not null as order_known
    from orders as o
    full outer join paid as p on o.order_id = p.order_id
),

per_order as (
    select
        *,
        coalesce(sum(payment_amount_vnd) over (partition by order_id), 0) as order_paid_vnd,
        row_number() over (
            partition by order_id
            order by settled_date nulls last, payment_id
        ) as order_row
    from pairs
)

select
    {{ surrogate_key(['order_id', 'payment_id']) }} as link_key,
    order_id,
    payment_id,
    order_date,
    customer_code,
    order_amount_vnd,
    payment_amount_vnd,
    settled_date,
    order_paid_vnd,
    order_amount_vnd - order_paid_vnd as order_open_vnd,
    order_row,
    case
        when not order_known or order_paid_vnd = 0 then 'unmatched'
        when abs(order_paid_vnd - order_amount_vnd) < 1 then 'matched'
        when order_paid_vnd < order_amount_vnd then 'partial'
        else 'amount_mismatch'
    end as match_status
from per_order
