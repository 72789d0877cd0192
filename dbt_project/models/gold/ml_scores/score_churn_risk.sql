{#- Churn risk of every account with orders in the last 365 days, each day: the probability
    of no order within `churn_horizon_days`, banded, with the account's segment. -#}
{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_partition_window('score_date') }}") }}

select
    s.score_date,
    {{ date_key('s.score_date') }} as score_date_key,
    s.customer_code,
    c.customer_key,
    c.segment,
    s.recency_days,
    s.churn_probability,
    case when s.churn_probability >= 0.6 then 'high' when s.churn_probability >= 0.3 then 'medium' else 'low' end
        as risk_band,
    s.model_name,
    s.model_version,
    s.predicted_at as prediction_timestamp
from {{ source('ml', 'churn_scores') }} as s
left join {{ ref('dim_customer') }} as c
    on
        s.customer_code = c.customer_code
        and {{ in_force_on('c', 's.score_date') }}
where {{ in_partition_window('s.score_date') }}
