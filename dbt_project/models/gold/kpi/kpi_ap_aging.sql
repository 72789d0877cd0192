{#- AP aging per day: supplier bills open at the end of the day (received by then, not paid
    by then) by days past due, in the AR aging's four buckets (not yet due counts as 0-30),
    with count, amount and share. Every bucket appears every day. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with days as (
    {{ model_days("(select min(bill_date) from " ~ ref('stg_supplier_bills') ~ ")", "select max(bill_date) from " ~ ref('stg_supplier_bills')) }}
),

open_bills as (
    select
        d.as_of_date,
        b.amount_vnd,
        {{ aging_bucket(dbt.datediff('b.due_date', 'd.as_of_date', 'day')) }} as aging_bucket
    from days as d
    inner join {{ ref('stg_supplier_bills') }} as b
        on
            d.as_of_date >= b.bill_date
            and coalesce(b.paid_date, cast('2999-12-31' as date)) > d.as_of_date
),

buckets as (
    {{ aging_buckets() }}
),

counted as (
    select
        d.as_of_date,
        k.aging_bucket,
        k.bucket_order,
        count(o.amount_vnd) as bill_count,
        coalesce(sum(o.amount_vnd), 0) as open_amount_vnd
    from days as d
    cross join buckets as k
    left join open_bills as o on d.as_of_date = o.as_of_date and k.aging_bucket = o.aging_bucket
    group by d.as_of_date, k.aging_bucket, k.bucket_order
)

select
    as_of_date,
    {{ date_key('as_of_date') }} as as_of_date_key,
    aging_bucket,
    bucket_order,
    bill_count,
    open_amount_vnd,
    round(coalesce(open_amount_vnd / nullif(sum(open_amount_vnd) over (partition by as_of_date), 0), 0), 4)
        as amount_share
from counted
