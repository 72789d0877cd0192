{#- Collection priority: each open invoice's probability of being paid more than 30 days
    late times its open amount (the amount at risk), ranked within the day; 1 = call first.
    A view, as score_payment_pred: the rank is within a day, so a query for some days ranks
    only those days' rows (the filter on score_date goes below the window). -#}
{{ config(materialized='view') }}

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
    rank() over ({{ collection_priority_order('s') }}) as priority_rank,
    s.model_name,
    s.model_version,
    s.predicted_at as prediction_timestamp
from {{ source('ml', 'ar_priority_scores') }} as s
