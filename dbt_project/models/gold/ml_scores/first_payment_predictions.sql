{#- Each invoice's first payment-date prediction: the one made the first day it was scored,
    the forecast the business would have acted on. One row per invoice, dated that day.
    Prediction misses (score_anomalies) and the model's monitoring compare payments with it;
    finding it in score_payment_pred meant reading every invoice-day of history (199M rows at
    5M invoices) for each day's few thousand payments. Built window by window in day order:
    an invoice is taken in the window of its first score, and only if no earlier window has it. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=[
        "{{ delete_partition_window('predicted_on') }}",
        "{{ delete_later_first_predictions() }}",
    ]
) }}

select
    s.doc_id,
    s.score_date as predicted_on,
    {{ date_key('s.score_date') }} as predicted_on_key,
    s.predicted_payment_date,
    s.interval_lower_date,
    s.interval_upper_date,
    s.model_version
from {{ ref('score_payment_pred') }} as s
where {{ in_partition_window('s.score_date') }}
{%- if is_incremental() %}
  and s.doc_id not in (select doc_id from {{ this }} where predicted_on < {{ window_start() }})
{%- endif %}
qualify row_number() over (
    partition by s.doc_id
    order by s.score_date
) = 1
