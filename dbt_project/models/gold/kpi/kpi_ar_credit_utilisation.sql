{#- Credit-limit utilisation: for each day, each account of the customer master with open VND
    receivables at the end of it, its credit line in force that day, the open and overdue
    amounts against it, the headroom left and a breach flag (open above the line; an account
    with no line at all that still owes is a breach too). Receivables of customers the master
    does not know (a delivered AR file's) have no line to compare and are left out. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with open_items as (
    select
        as_of_date,
        customer_number,
        count(*) as open_invoices,
        {{ exact_sum('amount') }} as open_amount_vnd,
        coalesce({{ exact_sum('case when days_overdue > 0 then amount end') }}, 0) as overdue_amount_vnd
    from {{ ref('ftr_invoice_risk') }}
    where {{ in_partition_window('as_of_date') }} and status = 'open' and currency = 'VND'
    group by as_of_date, customer_number
)

select
    o.as_of_date,
    {{ date_key('o.as_of_date') }} as as_of_date_key,
    o.customer_number,
    c.customer_name,
    c.segment,
    c.credit_limit_vnd,
    o.open_invoices,
    o.open_amount_vnd,
    o.overdue_amount_vnd,
    round(o.open_amount_vnd / nullif(c.credit_limit_vnd, 0), 4) as utilisation,
    c.credit_limit_vnd - o.open_amount_vnd as headroom_vnd,
    o.open_amount_vnd > c.credit_limit_vnd as is_breach
from open_items as o
inner join {{ ref('stg_customers') }} as c
    on
        o.customer_number = c.customer_code
        and {{ in_force_on('c', 'o.as_of_date') }}
