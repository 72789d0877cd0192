{#- Bank statement lines (deduplicated), signed amounts, the payment or bill reference read
    from the description, and how many times overlapping statements delivered the line. -#}
-- depends_on: {{ ref('stg_bank_transactions') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='bank_txn_id',
    pre_hook="{{ delete_undelivered('bank_txn_id', ref('stg_bank_transactions'), 'bank_txn_id', ['last_delivered_on']) }}"
) }}

with lines as (
    select * from {{ ref('stg_bank_transactions') }}
    {% if is_incremental() %}
    where {{ redelivered_keys('bank_txn_id', ref('stg_bank_transactions'), 'last_delivered_on', 'bank_txn_id', ['last_delivered_on']) }}
    {% endif %}
)

select
    {{ surrogate_key(['l.bank_txn_id']) }} as bank_txn_key,
    l.bank_txn_id,
    {{ date_key('l.txn_date') }} as txn_date_key,
    l.txn_date,
    l.direction,
    l.amount_vnd,
    l.signed_amount_vnd,
    round(l.signed_amount_vnd * fx.rate, 2) as signed_amount_reporting,
    l.description,
    l.counterparty,
    l.payment_ref,
    l.bill_ref,
    l.deliveries,
    l.last_delivered_on
from lines as l
{{ fx_asof_join("'VND'", 'l.txn_date') }}
