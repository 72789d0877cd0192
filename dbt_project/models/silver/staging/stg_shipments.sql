{#- Shipments in their latest state (in_transit, delivered, returned), carrier mapped. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='shipment_id',
    pre_hook="{{ delete_undelivered('shipment_id', source('bronze', 'shipments_raw'), 'trim(shipment_id)') }}"
) }}

with latest as (
    {{ latest_delivered('shipments_raw', 'shipment_id', 'updated_on desc, partition_date desc, _source_line desc') }}
)

select
    trim(s.shipment_id) as shipment_id,
    trim(s.order_id) as order_id,
    s.carrier as carrier_raw,
    coalesce(m.carrier_code, 'unknown') as carrier_code,
    lower(trim(s.status)) as status,
    s.units,
    s.shipped_date,
    s.delivered_date,
    {{ dbt.datediff('s.shipped_date', 's.delivered_date', 'day') }} as delivery_days,
    coalesce(s.shipping_fee_vnd, 0) as shipping_fee_vnd,
    s.updated_on,
    s.partition_date as delivered_on
from latest as s
left join {{ ref('carrier_map') }} as m on m.raw_carrier = {{ map_key('s.carrier') }}
