{#- One row per invoice in its latest known state. -#}
-- depends_on: {{ ref('stg_ar_invoice_deliveries') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='doc_id',
    pre_hook="{{ delete_withdrawn('doc_id') }}"
) }}

select
    doc_id,
    invoice_id,
    business_code,
    customer_number,
    customer_name,
    invoice_date,
    document_date,
    baseline_date,
    due_date,
    payment_date,
    is_open,
    currency,
    amount,
    fx_rate_to_reporting,
    amount_reporting,
    payment_terms,
    document_type,
    business_year,
    {{ ar_extra_names() | join(',\n    ') }},
    state_version,
    valid_from as state_valid_from,
    _source_file,
    _source_line
from {{ ref('stg_ar_invoice_history') }}
where is_current
{% if is_incremental() %}
  -- the invoices the window delivered, and those whose state it withdrew
  and (doc_id in (select doc_id from {{ ref('stg_ar_invoice_deliveries') }})
       or {{ changed_in_window(ref('stg_ar_invoice_history')) }})
{% endif %}
