{#- Collection priority: each open invoice's probability of being paid more than 30 days
    late times its open amount (the amount at risk), ranked within the day; 1 = call first. -#}
{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_partition_window('score_date') }}") }}

select
    s.score_date,
    {{ date_key('s.score_date') }} as score_date_key,
    s.doc_id,
    s.invoice_id,
    s.customer_number,
    s.open_amount,
    s.days_past_due,
    s.probability_over_30_late,
    round(s.probability_over_30_late * s.open_amount, 2) as priority_score,
    rank() over (partition by s.score_date order by s.probability_over_30_late * s.open_amount desc, s.doc_id) as priority_rank,
    s.model_name,
    s.model_version,
    s.predicted_at as prediction_timestamp
from {{ source('ml', 'ar_priority_scores') }} as s
where {{ in_partition_window('s.score_date') }}
