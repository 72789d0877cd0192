{#- Shipments at parcel grain (latest state) with keys to carrier and dates. -#}
-- depends_on: {{ ref('stg_shipments') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='shipment_id',
    pre_hook="{{ delete_undelivered('shipment_id', ref('stg_shipments'), 'shipment_id', ['delivered_on']) }}"
) }}

select
    {{ surrogate_key(['shipment_id']) }} as shipment_key,
    shipment_id,
    order_id,
    {{ surrogate_key(['carrier_code']) }} as carrier_key,
    carrier_code,
    {{ date_key('shipped_date') }} as shipped_date_key,
    {{ date_key('delivered_date') }} as delivered_date_key,
    shipped_date,
    delivered_date,
    status,
    units,
    delivery_days,
    shipping_fee_vnd,
    delivered_on
from {{ ref('stg_shipments') }}
{% if is_incremental() %}
where {{ redelivered_keys('shipment_id', ref('stg_shipments'), 'delivered_on', 'shipment_id', ['delivered_on']) }}
{% endif %}
