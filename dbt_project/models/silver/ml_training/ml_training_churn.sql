{#- Churn-risk rows: every account with orders in the last 365 days, each day, with its
    behaviour features as of that day (ftr_customer_behavior), its order counts over the
    last 30 and the 30 before, and the label "churned": no order in the next
    `churn_horizon_days` days, known once the horizon has passed. The model trains on rows
    whose label matured by its cutoff and scores the rows of the day it runs for. -#}
{{ config(materialized='view') }}

{% set horizon = var('churn_horizon_days') %}

with data_through as (
    select max(order_date) as last_day from {{ ref('stg_orders') }}
),

order_days as (
    select distinct
        customer_code,
        order_date
    from {{ ref('stg_orders') }}
),

accounts as (
    select
        b.as_of_date,
        b.customer_code,
        b.account_segment,
        b.customer_age_days,
        b.recency_days,
        b.frequency_ltm,
        b.monetary_ltm_vnd,
        b.avg_order_value_vnd,
        b.payment_completion_rate,
        b.payments_failed_ltm,
        b.payments_pending,
        b.behavior_segment
    from {{ ref('ftr_customer_behavior') }} as b
    where b.frequency_ltm > 0
),

activity as (
    select
        a.as_of_date,
        a.customer_code,
        count(*) filter (
            where o.order_date > {{ dbt.dateadd('day', -30, 'a.as_of_date') }} and o.order_date <= a.as_of_date
        )
            as order_days_last_30,
        count(
            *) filter (
            where o.order_date > {{ dbt.dateadd('day', -60, 'a.as_of_date') }}
            and o.order_date <= {{ dbt.dateadd('day', -30, 'a.as_of_date') }}
        ) as order_days_prior_30,
        min(o.order_date) filter (where o.order_date > a.as_of_date) as next_order_date
    from accounts as a
    left join order_days as o
        on
            a.customer_code = o.customer_code
            and o.order_date > {{ dbt.dateadd('day', -60, 'a.as_of_date') }}
    group by a.as_of_date, a.customer_code
)

select
    a.*,
    x.order_days_last_30,
    x.order_days_prior_30,
    -- the label matures at the horizon whatever the outcome (an early order is not an early
    -- label: training on matured rows only keeps churners from being under-represented)
    case
        when {{ dbt.dateadd('day', horizon, 'a.as_of_date') }} > d.last_day then null
        else coalesce(x.next_order_date > {{ dbt.dateadd('day', horizon, 'a.as_of_date') }}, true)
    end as churned,
    cast({{ dbt.dateadd('day', horizon, 'a.as_of_date') }} as date) as label_known_on
from accounts as a
inner join activity as x on a.as_of_date = x.as_of_date and a.customer_code = x.customer_code
cross join data_through as d
