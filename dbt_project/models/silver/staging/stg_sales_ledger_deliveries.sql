{#- The SME's own sales on account as receivables deliveries, in the shape of the delivered AR
    files (stg_ar_invoice_deliveries), so aging, DSO, the worklist and the models treat them as
    any ledger. An order is an invoice when its account held a credit line on the order day
    (retail sales are paid at the checkout). It is delivered open on the day the order was, and
    cleared on the day the payment that brought its paid amount up to the order's total was
    delivered paid; the clearing date is that payment's settlement. The ledger contract has no
    partial receipts: an order paid in instalments stays open at its total until the last one.
    Empty unless the deployment turns it on (var sales_as_receivables). -#}
{{ config(materialized='ephemeral') }}

{% set enabled = var('sales_as_receivables') | string | lower in ['true', '1', 'yes', 'on'] %}

with touched as (  -- orders whose opening or clearing the window delivers
    select order_id from {{ ref('stg_orders') }}
    where {{ in_partition_window('delivered_on') }}
    union
    select order_id from {{ ref('stg_payments') }}
    where {{ in_partition_window('delivered_on') }}
),

orders as (
    select
        order_id,
        min(order_date) as order_date,
        min(due_date) as due_date,
        min(customer_code) as customer_code,
        min(channel_code) as channel,
        sum(revenue_vnd) as amount,
        min(delivered_on) as delivered_on,
        min(_source_file) as _source_file,
        min(_source_line) as _source_line
    from {{ ref('stg_orders') }}
    where order_id in (select order_id from touched)
    group by order_id
),

on_account as (
    select
        o.*,
        c.customer_name
    from orders as o
    inner join {{ ref('stg_customers') }} as c
        on
            o.customer_code = c.customer_code
            and {{ in_force_on('c', 'o.order_date') }}
    where c.credit_limit_vnd > 0
),

paid as (  -- each paid payment with what the order had received by it, in delivery order
    select
        p.order_id,
        p.payment_id,
        p.settled_date,
        p.delivered_on,
        o.amount,
        sum(p.amount_vnd) over (
            partition by p.order_id
            order by p.delivered_on, p.settled_date, p.payment_id
            rows unbounded preceding
        ) as received
    from {{ ref('stg_payments') }} as p
    inner join on_account as o on p.order_id = o.order_id
    where p.status = 'paid'
),

cleared as (  -- the payment that completed the order (whole dong: a dong short is paid)
    select
        order_id,
        payment_id,
        settled_date,
        delivered_on
    from paid
    where received >= amount - 1
    qualify row_number() over (
        partition by order_id
        order by delivered_on, settled_date, payment_id
    ) = 1
),

states as (
    select
        o.*,
        true as is_open,
        cast(null as date) as payment_date
    from on_account as o
    union all
    select
        o.* replace (c.delivered_on as delivered_on, 'payment ' || c.payment_id as _source_file, null as _source_line),
        false as is_open,
        c.settled_date as payment_date
    from on_account as o
    inner join cleared as c on o.order_id = c.order_id
)

select
    {{ ledger_doc_id("'sales:' || order_id") }} as doc_id,
    {{ ledger_doc_id("'sales:' || order_id") }} as invoice_id,
    '{{ var("sales_ledger_code") }}' as business_code,
    customer_code as customer_number,
    customer_name,
    order_date as invoice_date,
    order_date as document_date,
    order_date as baseline_date,
    due_date,
    payment_date,
    is_open,
    'VND' as currency,
    cast(amount as double) as amount,
    'NET' || {{ dbt.datediff('order_date', 'due_date', 'day') }} as payment_terms,
    'RV' as document_type,
    cast(extract(year from order_date) as bigint) as business_year,
    channel,  -- the one extra the sales ledger knows, the order's channel code (the others stay null)
    delivered_on,
    _source_file,
    cast(_source_line as bigint) as _source_line
from states
where {{ in_partition_window('delivered_on') }} and {{ 'true' if enabled else 'false' }}
