{#- The sales database's receivables at the end of each day: open and overdue invoices (total
    less the allocations in force), cash received and not applied, invoiced and received that day.
    Computed from the extracted histories as the database stood that night, so a day's figures
    equal the database's own at midnight. Built for the run's days and the day before them, which
    their extraction windows reach into (late commits of that day). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_from_built_model(in_sales_db_window('as_of_date')) }}"
) }}

with extracted as (
    select
        min(valid_from) as first_day,
        max(valid_from) as newest_day
    from {{ ref('stg_sales_db_invoices') }}
),

days as (
    select d.date_day as as_of_date
    from {{ ref('dim_date') }} as d
    cross join extracted as e
    where
        {{ in_sales_db_window('d.date_day') }}
        and d.date_day >= e.first_day
        and d.date_day <= {{ snapshot_last_day('e.newest_day') }}
),

invoices as (
    select
        d.as_of_date,
        i.invoice_id,
        i.due_date,
        i.total_vnd,
        i.invoice_date
    from days as d
    inner join {{ ref('stg_sales_db_invoices') }} as i on {{ sales_db_in_force('i', 'd.as_of_date') }}
    where i.status <> 'void'
),

allocations as (
    select
        d.as_of_date,
        a.invoice_id,
        a.payment_id,
        a.amount_vnd
    from days as d
    inner join {{ ref('stg_sales_db_payment_allocations') }} as a on {{ sales_db_in_force('a', 'd.as_of_date') }}
),

payments as (
    select
        d.as_of_date,
        p.payment_id,
        p.amount_vnd,
        p.received_on
    from days as d
    inner join {{ ref('stg_sales_db_payments') }} as p on {{ sales_db_in_force('p', 'd.as_of_date') }}
),

invoice_balances as (
    select
        i.as_of_date,
        i.invoice_id,
        i.due_date,
        i.invoice_date,
        i.total_vnd,
        i.total_vnd - coalesce(sum(a.amount_vnd), 0) as open_vnd
    from invoices as i
    left join allocations as a on i.as_of_date = a.as_of_date and i.invoice_id = a.invoice_id
    group by i.as_of_date, i.invoice_id, i.due_date, i.invoice_date, i.total_vnd
),

payment_balances as (
    select
        p.as_of_date,
        p.payment_id,
        p.received_on,
        p.amount_vnd,
        p.amount_vnd - coalesce(sum(a.amount_vnd), 0) as unapplied_vnd
    from payments as p
    left join allocations as a on p.as_of_date = a.as_of_date and p.payment_id = a.payment_id
    group by p.as_of_date, p.payment_id, p.received_on, p.amount_vnd
),

per_invoice_day as (
    select
        as_of_date,
        count(*) filter (where open_vnd > 0) as open_invoices,
        coalesce({{ exact_sum('case when open_vnd > 0 then open_vnd end') }}, 0) as open_amount_vnd,
        count(*) filter (where open_vnd > 0 and due_date < as_of_date) as overdue_invoices,
        coalesce({{ exact_sum('case when open_vnd > 0 and due_date < as_of_date then open_vnd end') }}, 0)
            as overdue_amount_vnd,
        coalesce({{ exact_sum('case when invoice_date = as_of_date then total_vnd end') }}, 0) as invoiced_vnd
    from invoice_balances
    group by as_of_date
),

per_payment_day as (
    select
        as_of_date,
        coalesce({{ exact_sum('unapplied_vnd') }}, 0) as unapplied_cash_vnd,
        coalesce({{ exact_sum('case when received_on = as_of_date then amount_vnd end') }}, 0) as received_vnd
    from payment_balances
    group by as_of_date
)

select
    d.as_of_date,
    coalesce(i.open_invoices, 0) as open_invoices,
    coalesce(i.open_amount_vnd, 0) as open_amount_vnd,
    coalesce(i.overdue_invoices, 0) as overdue_invoices,
    coalesce(i.overdue_amount_vnd, 0) as overdue_amount_vnd,
    coalesce(p.unapplied_cash_vnd, 0) as unapplied_cash_vnd,
    coalesce(i.invoiced_vnd, 0) as invoiced_vnd,
    coalesce(p.received_vnd, 0) as received_vnd
from days as d
left join per_invoice_day as i on d.as_of_date = i.as_of_date
left join per_payment_day as p on d.as_of_date = p.as_of_date
