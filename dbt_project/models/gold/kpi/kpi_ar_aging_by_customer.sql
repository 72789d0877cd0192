{#- Aging by customer: each customer's open items at the end of each day, by bucket, with the
    oldest overdue item and the customer's share of the day's open receivables. A credit
    controller's first list. From fact_ar_open_items (its rows per day and customer add up to
    kpi_ar_aging's buckets). Built for the run's days, like the other daily KPIs. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with items as (
    select * from {{ ref('fact_ar_open_items') }}
    where {{ in_partition_window('as_of_date') }}
),

per_customer as (
    select
        as_of_date,
        customer_number,
        any_value(customer_name) as customer_name,
        count(*) as open_invoices,
        {{ exact_sum('open_amount') }} as open_amount,
        count(*) filter (where days_overdue > 0) as overdue_invoices,
        coalesce({{ exact_sum("case when days_overdue > 0 then open_amount end") }}, 0) as overdue_amount,
        coalesce({{ exact_sum("case when aging_bucket = '0-30' then open_amount end") }}, 0) as amount_0_30,
        coalesce({{ exact_sum("case when aging_bucket = '31-60' then open_amount end") }}, 0) as amount_31_60,
        coalesce({{ exact_sum("case when aging_bucket = '61-90' then open_amount end") }}, 0) as amount_61_90,
        coalesce({{ exact_sum("case when aging_bucket = '90+' then open_amount end") }}, 0) as amount_90_plus,
        max(days_overdue) as oldest_days_overdue
    from items
    group by as_of_date, customer_number
)

select
    *,
    round(open_amount / sum(open_amount) over (partition by as_of_date), 6) as share_of_open_ar
from per_customer
