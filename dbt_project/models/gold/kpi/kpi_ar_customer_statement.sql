{#- The customer statement: per customer and day, the balance brought forward, the invoices the
    ledger showed for the first time that day, the invoices cleared that day and the balance
    carried, all in the reporting currency. A customer's rows over a period are their statement;
    closing = opening + invoiced - paid + adjustments, where adjustments are corrections of items
    already open (zero in a ledger without corrections). Days without an open item or a movement
    have no row: the balance is zero then. Built for the run's days from ftr_invoice_risk (and
    the day before, for the balance brought forward). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with items as (
    select
        as_of_date,
        customer_number,
        doc_id,
        status,
        amount_reporting
    from {{ ref('ftr_invoice_risk') }}
    where as_of_date between {{ window_start() }} - 1 and {{ window_end() }}
),

first_seen as (  -- the day each invoice entered the daily snapshot: its first live state's delivery
    select
        doc_id,
        min(valid_from) as first_day
    from {{ live_invoice_history() }}
    where doc_id in (select doc_id from items)
    group by doc_id
),

daily as (
    select
        i.as_of_date,
        i.customer_number,
        count(*) filter (where i.status = 'open') as open_invoices,
        coalesce({{ exact_sum("case when i.status = 'open' then i.amount_reporting end") }}, 0) as closing_balance,
        count(*) filter (where f.first_day = i.as_of_date) as invoices_new,
        coalesce({{ exact_sum("case when f.first_day = i.as_of_date then i.amount_reporting end") }}, 0) as invoiced_amount,
        count(*) filter (where i.status = 'paid') as invoices_paid,
        coalesce({{ exact_sum("case when i.status = 'paid' then i.amount_reporting end") }}, 0) as paid_amount
    from items as i
    inner join first_seen as f on i.doc_id = f.doc_id
    group by i.as_of_date, i.customer_number
),

carried as (
    select
        *,
        -- the previous row is yesterday's balance; a gap means the customer owed nothing in between
        case
            when lag(as_of_date) over w = as_of_date - 1 then lag(closing_balance) over w
            else 0
        end as opening_balance
    from daily
    window w as (
        partition by customer_number
        order by as_of_date
    )
)

select
    as_of_date,
    {{ date_key('as_of_date') }} as as_of_date_key,
    customer_number,
    opening_balance,
    invoices_new,
    invoiced_amount,
    invoices_paid,
    paid_amount,
    closing_balance - (opening_balance + invoiced_amount - paid_amount) as adjustments,
    closing_balance,
    open_invoices
from carried
where {{ in_partition_window('as_of_date') }}
