{#- Customer payments in their latest state (pending, paid, failed), each allocated to one
    order; method spellings mapped, statuses standardized. A state delivered later (by
    updated_on) wins. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='payment_id',
    pre_hook="{{ delete_undelivered('payment_id', source('bronze', 'payments_raw'), 'trim(payment_id)') }}"
) }}

with latest as (
    {{ latest_delivered('payments_raw', 'payment_id', 'updated_on desc, partition_date desc, _source_line desc') }}
)

select
    trim(p.payment_id) as payment_id,
    trim(p.order_id) as order_id,
    trim(p.customer_code) as customer_code,
    p.payment_date,
    p.settled_date,
    p.method as method_raw,
    coalesce(m.method_code, 'unknown') as method_code,
    coalesce(m.expects_bank_line, false) as expects_bank_line,
    p.status as status_raw,
    {{ payment_status('p.status') }} as status,
    p.amount_vnd,
    p.updated_on,
    p.partition_date as delivered_on
from latest as p
left join {{ ref('payment_method_map') }} as m on m.raw_method = {{ map_key('p.method') }}
