{#- Predicted cash-in per stream: each forecast day's 26 weeks ahead, horizon 1..182 (the
    30-day view is horizon_days <= 30), with 80 % and 95 % intervals. -#}
{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_partition_window('forecast_date') }}") }}

select
    s.forecast_date,
    {{ date_key('s.forecast_date') }} as forecast_date_key,
    s.stream,
    s.currency,
    s.target_date,
    {{ date_key('s.target_date') }} as target_date_key,
    s.horizon_days,
    s.predicted_cash_in,
    s.lower_80,
    s.upper_80,
    s.lower_95,
    s.upper_95,
    s.model_name,
    s.model_version,
    s.predicted_at as prediction_timestamp
from {{ source('ml', 'cashflow_forecast') }} as s
where {{ in_partition_window('s.forecast_date') }}
