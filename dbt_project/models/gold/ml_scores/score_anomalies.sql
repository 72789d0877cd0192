{#- UC10 and transaction anomalies, one row per anomaly and the day it was found:
    - payment_prediction: an invoice paid more than `prediction_anomaly_days` away from the
      date predicted when it was first scored (found on the day its payment arrived);
    - payment / bank_transaction: rows the anomaly model scored as unusual, with the reason. -#}
{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_partition_window('found_on') }}") }}

with paid as (
    select
        doc_id,
        invoice_id,
        customer_number,
        payment_date,
        state_valid_from as paid_known_on,
        amount_reporting
    from {{ ref('stg_ar_invoices') }}
    where not is_open and {{ in_partition_window('state_valid_from') }}
),

first_predictions as (
    select
        doc_id,
        predicted_payment_date,
        model_version,
        predicted_on
    from {{ ref('first_payment_predictions') }}
    where doc_id in (select doc_id from paid)
),

prediction_misses as (
    select
        p.paid_known_on as found_on,
        'payment_prediction' as anomaly_kind,
        cast(p.doc_id as varchar) as subject_id,
        p.customer_number as counterparty,
        p.amount_reporting as amount,
        '{{ var("reporting_currency") }}' as currency,
        {{ dbt.datediff('f.predicted_payment_date', 'p.payment_date', 'day') }} as observed,
        'paid ' || cast({{ dbt.datediff('f.predicted_payment_date', 'p.payment_date', 'day') }} as varchar)
        || ' days from the date predicted on ' || cast(f.predicted_on as varchar) as reason,
        f.model_version
    from paid as p
    inner join first_predictions as f on p.doc_id = f.doc_id
    where abs({{ dbt.datediff('f.predicted_payment_date', 'p.payment_date', 'day') }}) > {{ var('prediction_anomaly_days') }}
),

transactions as (
    select
        score_date as found_on,
        subject_kind as anomaly_kind,
        subject_id,
        counterparty,
        amount_vnd as amount,
        'VND' as currency,
        anomaly_score as observed,
        reason,
        model_version
    from {{ source('ml', 'transaction_anomalies') }}
    where is_anomaly and {{ in_partition_window('score_date') }}
)

select
    *,
    {{ date_key('found_on') }} as found_on_key
from prediction_misses
union all
select
    *,
    {{ date_key('found_on') }} as found_on_key
from transactions
