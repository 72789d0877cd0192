{#- Bank statement lines, one per bank_txn_id: overlapping statements deliver some lines
    twice, the first delivery is kept and `deliveries` says how often it came. The payment or
    bill reference is read from the description (TT0000123 / HD0000123). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='bank_txn_id',
    pre_hook="{{ delete_undelivered('bank_txn_id', source('bronze', 'bank_transactions_raw'), 'trim(bank_txn_id)', ['delivered_on', 'last_delivered_on']) }}"
) }}

with latest as (
    select
        *,
        count(*) over (partition by bank_txn_id) as deliveries,
        max(partition_date) over (partition by bank_txn_id) as last_delivered_on
    from {{ source('bronze', 'bank_transactions_raw') }}
    {% if is_incremental() %}
    where {{ redelivered_keys(
        'trim(bank_txn_id)', source('bronze', 'bank_transactions_raw'), 'partition_date', 'bank_txn_id',
        ['delivered_on', 'last_delivered_on']
    ) }}
    {% endif %}
    qualify row_number() over (
        partition by bank_txn_id
        order by partition_date, _source_file, _source_line
    ) = 1
)

select
    trim(bank_txn_id) as bank_txn_id,
    txn_date,
    lower(trim(direction)) as direction,
    amount_vnd,
    case when lower(trim(direction)) = 'debit' then -amount_vnd else amount_vnd end as signed_amount_vnd,
    description,
    counterparty,
    nullif(regexp_extract(upper(description), 'TT[0-9]{7}'), '') as payment_ref,
    nullif(regexp_extract(upper(description), 'HD[0-9]{7}'), '') as bill_ref,
    deliveries,
    partition_date as delivered_on,
    last_delivered_on
from latest
