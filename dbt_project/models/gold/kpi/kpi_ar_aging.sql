{#- AR aging per snapshot day: open invoices by days past due in four buckets (not yet due
    counts as 0-30), with count, amount and share of the open amount. Every bucket appears
    every day, empty ones with zeros. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with snapshot as (
    select * from {{ ref('ftr_invoice_risk') }}
    where {{ in_partition_window('as_of_date') }}
),

buckets as (
    {{ aging_buckets() }}
),

grid as (
    select
        days.as_of_date,
        buckets.aging_bucket,
        buckets.bucket_order
    from (select distinct as_of_date from snapshot) as days
    cross join buckets
),

counted as (
    select
        g.as_of_date,
        g.aging_bucket,
        g.bucket_order,
        count(s.doc_id) as invoice_count,
        coalesce({{ exact_sum('s.amount_reporting') }}, 0) as open_amount
    from grid as g
    left join snapshot as s
        on
            g.as_of_date = s.as_of_date
            and g.aging_bucket = s.aging_bucket
            and s.status = 'open'
    group by g.as_of_date, g.aging_bucket, g.bucket_order
)

select
    as_of_date,
    {{ date_key('as_of_date') }} as as_of_date_key,
    aging_bucket,
    bucket_order,
    invoice_count,
    round(open_amount, 2) as open_amount,
    coalesce(open_amount / nullif({{ exact_sum('open_amount', 'over (partition by as_of_date)') }}, 0), 0) as amount_share
from counted
