{#- Revenue per day: orders, lines, units, revenue, cost and gross margin (VND and the
    reporting currency), growth on the previous day and on the same weekday a week before
    (null when that day had no revenue). Every day of the window has a row, quiet ones with
    zeros, so charts do not skip days. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('revenue_date') }}"
) }}

with days as (
    {{ model_days("(select min(order_date) from " ~ ref('fact_orders') ~ ")", "select max(order_date) from " ~ ref('fact_orders')) }}
),

daily as (  -- reaching a week before the window, for the comparisons
    select
        order_date,
        count(distinct order_id) as orders,
        count(*) as order_lines,
        sum(quantity) as units,
        sum(revenue_vnd) as revenue_vnd,
        sum(cost_vnd) as cost_vnd,
        {{ exact_sum('revenue_reporting') }} as revenue_reporting
    from {{ ref('fact_orders') }}
    where order_date between {{ dbt.dateadd('day', -7, window_start()) }} and {{ window_end() }}
    group by order_date
)

select
    d.as_of_date as revenue_date,
    {{ date_key('d.as_of_date') }} as revenue_date_key,
    coalesce(t.orders, 0) as orders,
    coalesce(t.order_lines, 0) as order_lines,
    coalesce(t.units, 0) as units,
    coalesce(t.revenue_vnd, 0) as revenue_vnd,
    coalesce(t.cost_vnd, 0) as cost_vnd,
    coalesce(t.revenue_vnd, 0) - coalesce(t.cost_vnd, 0) as gross_margin_vnd,
    round((t.revenue_vnd - t.cost_vnd) / nullif(t.revenue_vnd, 0), 4) as gross_margin_pct,
    round(coalesce(t.revenue_reporting, 0), 2) as revenue_reporting,
    coalesce(p.revenue_vnd, 0) as previous_day_revenue_vnd,
    round(coalesce(t.revenue_vnd, 0) / nullif(p.revenue_vnd, 0) - 1, 4) as growth_vs_previous_day,
    coalesce(w.revenue_vnd, 0) as same_weekday_last_week_revenue_vnd,
    round(coalesce(t.revenue_vnd, 0) / nullif(w.revenue_vnd, 0) - 1, 4) as growth_vs_same_weekday_last_week
from days as d
left join daily as t on d.as_of_date = t.order_date
left join daily as p on p.order_date = {{ dbt.dateadd('day', -1, 'd.as_of_date') }}
left join daily as w on w.order_date = {{ dbt.dateadd('day', -7, 'd.as_of_date') }}
