{#- Predicted payment date of every invoice open at the end of each day (the champion's
    prediction that day), with its interval, confidence, model version and timestamp. -#}
{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_partition_window('score_date') }}") }}

select
    s.score_date,
    {{ date_key('s.score_date') }} as score_date_key,
    s.doc_id,
    s.invoice_id,
    s.customer_number,
    s.invoice_date,
    s.due_date,
    s.open_amount,
    s.predicted_days_to_pay,
    s.predicted_payment_date,
    {{ date_key('s.predicted_payment_date') }} as predicted_payment_date_key,
    s.interval_lower_date,
    s.interval_upper_date,
    s.interval_level,
    s.confidence as prediction_confidence,
    s.model_name,
    s.model_version,
    s.predicted_at as prediction_timestamp
from {{ source('ml', 'payment_date_scores') }} as s
where {{ in_partition_window('s.score_date') }}
