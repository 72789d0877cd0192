{#- Sales order lines, typed and deduplicated (a line delivered again replaces the earlier
    copy), with the channel spelling mapped to its code. Orders the window touched are
    rebuilt whole. An order is the customer's invoice, due on due_date. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='order_id',
    pre_hook="{{ delete_undelivered('order_id', source('bronze', 'orders_raw'), 'trim(order_id)') }}"
) }}

with latest as (
    {{ latest_delivered('orders_raw', 'order_id, line_no', 'partition_date desc, _source_file desc, _source_line desc', 'order_id') }}
)

select
    trim(o.order_id) as order_id,
    o.line_no,
    o.order_date,
    o.due_date,
    trim(o.customer_code) as customer_code,
    trim(o.sku) as sku,
    o.channel as channel_raw,
    coalesce(m.channel_code, 'unknown') as channel_code,
    o.quantity,
    o.unit_price_vnd,
    coalesce(o.discount_vnd, 0) as discount_vnd,
    o.revenue_vnd,
    o.cost_vnd,
    o.revenue_vnd - o.cost_vnd as gross_margin_vnd,
    o.partition_date as delivered_on,
    o._source_file,
    o._source_line
from latest as o
left join {{ ref('channel_map') }} as m on m.raw_channel = {{ map_key('o.channel') }}
