{#- Predicted payment date of every invoice open at the end of each day (the champion's
    prediction that day), with its interval, confidence, model version and timestamp.
    A view: the scores asset already keeps one row per invoice and day, replaced day by day;
    a copy would rewrite every open invoice of every day (~200M rows at 5 million invoices)
    for a few derived keys. A query for a day reads only that day's rows. -#}
{{ config(materialized='view') }}

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
