{#- Customer payments at payment grain (latest state) with keys to customer version,
    method and dates; amounts in VND and the reporting currency. -#}
-- depends_on: {{ ref('stg_payments') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='payment_id',
    pre_hook="{{ delete_undelivered('payment_id', ref('stg_payments'), 'payment_id', ['delivered_on']) }}"
) }}

with payments as (
    select * from {{ ref('stg_payments') }}
    {% if is_incremental() %}
    where {{ redelivered_keys('payment_id', ref('stg_payments'), 'delivered_on', 'payment_id', ['delivered_on']) }}
    {% endif %}
)

select
    {{ surrogate_key(['p.payment_id']) }} as payment_key,
    p.payment_id,
    p.order_id,
    {{ date_key('p.payment_date') }} as payment_date_key,
    {{ date_key('p.settled_date') }} as settled_date_key,
    p.payment_date,
    p.settled_date,
    c.customer_key,
    p.customer_code,
    {{ surrogate_key(['p.method_code']) }} as payment_method_key,
    p.method_code,
    p.expects_bank_line,
    p.status,
    p.amount_vnd,
    round(p.amount_vnd * fx.rate, 2) as amount_reporting,
    p.delivered_on
from payments as p
left join {{ ref('dim_customer') }} as c
    on
        p.customer_code = c.customer_code
        and {{ in_force_on('c', 'p.payment_date') }}
{{ fx_asof_join("'VND'", 'p.payment_date') }}
