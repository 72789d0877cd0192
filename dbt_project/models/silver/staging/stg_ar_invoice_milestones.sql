{#- Each invoice's milestones, from its state history: the day it became known and its opening
    amount; the day its payment became known (its first cleared state) with that payment's date
    and days late. One row per invoice and customer number (a correction moving an invoice to
    another customer gives each its own row). ftr_invoice_at_posting reads every invoice of a
    day's customers from here: grouping their whole state history again each day was the most
    of a new day's cost of that model at 5 million invoices. Window runs rewrite the invoices the
    window delivered, from their whole history. -#}
-- depends_on: {{ ref('stg_ar_invoice_deliveries') }}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='doc_id') }}

select
    doc_id,
    customer_number,
    min(valid_from) as opened_on,
    min(case when state_version = 1 then amount_reporting end) as opening_amount,
    min(case when not is_open then valid_from end) as paid_known_on,
    arg_min(
        case when not is_open then {{ dbt.datediff('due_date', 'payment_date', 'day') }} end,
        case when not is_open then state_version end
    ) as days_late,
    arg_min(case when not is_open then payment_date end, case when not is_open then state_version end) as payment_date
from {{ ref('stg_ar_invoice_history') }}
{% if is_incremental() %}
where doc_id in (select doc_id from {{ ref('stg_ar_invoice_deliveries') }})
{% endif %}
group by doc_id, customer_number
