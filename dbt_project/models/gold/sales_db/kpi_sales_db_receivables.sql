{#- The sales database's receivables at the end of each day: open and overdue invoices (total
    less the allocations in force), cash received and not applied, invoiced and received that day.
    Computed from the extracted histories as the database stood that night, so a day's figures
    equal the database's own at midnight: each invoice's balance is cut into stretches between its
    versions' and allocations' changes, and the figures are running sums of their starts and ends. Built for the run's days and the day before them, which
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

-- every day from the first extracted through the window's last: running sums start there
calendar as (
    select d.date_day as as_of_date
    from {{ ref('dim_date') }} as d
    cross join extracted as e
    where d.date_day between e.first_day and {{ snapshot_last_day('e.newest_day') }}
),

-- versions in force on at least one day, valid_to closed with a far day while current
invoice_versions as (
    select
        invoice_id,
        invoice_date,
        due_date,
        total_vnd,
        valid_from,
        coalesce(valid_to, date '9999-12-31') as valid_to,
        not is_deleted and status <> 'void' as is_live
    from {{ ref('stg_sales_db_invoices') }}
    where valid_to is null or valid_to > valid_from
),

allocation_versions as (
    select
        invoice_id,
        payment_id,
        valid_from,
        coalesce(valid_to, date '9999-12-31') as valid_to,
        case when is_deleted then 0 else amount_vnd end as amount_vnd
    from {{ ref('stg_sales_db_payment_allocations') }}
    where valid_to is null or valid_to > valid_from
),

payment_versions as (
    select
        received_on,
        valid_from,
        coalesce(valid_to, date '9999-12-31') as valid_to,
        case when is_deleted then 0 else amount_vnd end as amount_vnd
    from {{ ref('stg_sales_db_payments') }}
    where valid_to is null or valid_to > valid_from
),

-- An invoice's balance is constant between the days one of its versions or allocations starts
-- or ends: one segment per such stretch (days x invoices would not fit a 5M-invoice ledger)
bounds as (
    select
        invoice_id,
        valid_from as bound
    from invoice_versions
    union
    select
        invoice_id,
        valid_to
    from invoice_versions
    union
    select
        invoice_id,
        valid_from
    from allocation_versions
    union
    select
        invoice_id,
        valid_to
    from allocation_versions
),

segments as (
    select
        invoice_id,
        bound as segment_start,
        lead(bound) over (
            partition by invoice_id
            order by bound
        ) as segment_end
    from bounds
),

segment_allocated as (
    select
        s.invoice_id,
        s.segment_start,
        sum(a.amount_vnd) as allocated_vnd
    from segments as s
    inner join allocation_versions as a
        on s.invoice_id = a.invoice_id and s.segment_start >= a.valid_from and s.segment_start < a.valid_to
    group by s.invoice_id, s.segment_start
),

open_segments as (
    select
        s.segment_start,
        s.segment_end,
        greatest(s.segment_start, v.due_date + 1) as overdue_from,
        v.total_vnd - coalesce(al.allocated_vnd, 0) as open_vnd
    from segments as s
    inner join invoice_versions as v
        on s.invoice_id = v.invoice_id and s.segment_start >= v.valid_from and s.segment_start < v.valid_to
    left join segment_allocated as al on s.invoice_id = al.invoice_id and s.segment_start = al.segment_start
    where v.is_live and s.segment_end is not null and v.total_vnd - coalesce(al.allocated_vnd, 0) > 0
),

-- each figure as changes on the days they happen; a running sum gives every day's figure
changes as (
    select
        segment_start as change_day,
        1 as open_invoices,
        open_vnd,
        0 as overdue_invoices,
        0 as overdue_vnd,
        0 as unapplied_vnd
    from open_segments
    union all
    select
        segment_end,
        -1,
        -open_vnd,
        0,
        0,
        0
    from open_segments
    union all
    select
        overdue_from,
        0,
        0,
        1,
        open_vnd,
        0
    from open_segments
    where overdue_from < segment_end
    union all
    select
        segment_end,
        0,
        0,
        -1,
        -open_vnd,
        0
    from open_segments
    where overdue_from < segment_end
    union all
    select
        valid_from,
        0,
        0,
        0,
        0,
        amount_vnd
    from payment_versions
    union all
    select
        valid_to,
        0,
        0,
        0,
        0,
        -amount_vnd
    from payment_versions
    union all
    select
        valid_from,
        0,
        0,
        0,
        0,
        -amount_vnd
    from allocation_versions
    union all
    select
        valid_to,
        0,
        0,
        0,
        0,
        amount_vnd
    from allocation_versions
),

per_day as (
    select
        change_day,
        sum(open_invoices) as open_invoices,
        {{ exact_sum('open_vnd') }} as open_vnd,
        sum(overdue_invoices) as overdue_invoices,
        {{ exact_sum('overdue_vnd') }} as overdue_vnd,
        {{ exact_sum('unapplied_vnd') }} as unapplied_vnd
    from changes
    group by change_day
),

running as (
    select
        c.as_of_date,
        sum(coalesce(p.open_invoices, 0)) over by_day as open_invoices,
        {{ exact_sum('coalesce(p.open_vnd, 0)', 'over by_day') }} as open_amount_vnd,
        sum(coalesce(p.overdue_invoices, 0)) over by_day as overdue_invoices,
        {{ exact_sum('coalesce(p.overdue_vnd, 0)', 'over by_day') }} as overdue_amount_vnd,
        {{ exact_sum('coalesce(p.unapplied_vnd, 0)', 'over by_day') }} as unapplied_cash_vnd
    from calendar as c
    left join per_day as p on c.as_of_date = p.change_day
    window by_day as (
        order by c.as_of_date
    )
),

invoiced as (
    select
        invoice_date as as_of_date,
        {{ exact_sum('total_vnd') }} as invoiced_vnd
    from invoice_versions
    where is_live and valid_from <= invoice_date and valid_to > invoice_date
    group by invoice_date
),

received as (
    select
        received_on as as_of_date,
        {{ exact_sum('amount_vnd') }} as received_vnd
    from payment_versions
    where valid_from <= received_on and valid_to > received_on
    group by received_on
)

select
    r.as_of_date,
    r.open_invoices,
    r.open_amount_vnd,
    r.overdue_invoices,
    r.overdue_amount_vnd,
    r.unapplied_cash_vnd,
    coalesce(i.invoiced_vnd, 0) as invoiced_vnd,
    coalesce(p.received_vnd, 0) as received_vnd
from running as r
left join invoiced as i on r.as_of_date = i.as_of_date
left join received as p on r.as_of_date = p.as_of_date
where {{ in_sales_db_window('r.as_of_date') }}
