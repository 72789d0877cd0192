{#- Sales at order-line grain with surrogate keys to every dimension: the customer version
    in force on the order day, product, channel, geography of the account that day, dates.
    Amounts in VND and in the reporting currency (monthly rate in force on the order day).
    Orders the window touched are replaced whole. -#}
-- depends_on: {{ ref('stg_orders') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='order_id',
    pre_hook="{{ delete_undelivered('order_id', ref('stg_orders'), 'order_id', ['delivered_on']) }}"
) }}

with lines as (
    select * from {{ ref('stg_orders') }}
    {% if is_incremental() %}
    where {{ redelivered_keys('order_id', ref('stg_orders'), 'delivered_on', 'order_id', ['delivered_on']) }}
    {% endif %}
)

select
    {{ surrogate_key(['l.order_id', 'l.line_no']) }} as order_line_key,
    l.order_id,
    l.line_no,
    {{ date_key('l.order_date') }} as order_date_key,
    {{ date_key('l.due_date') }} as due_date_key,
    l.order_date,
    l.due_date,
    c.customer_key,
    l.customer_code,
    c.geo_key,
    {{ surrogate_key(['l.sku']) }} as product_key,
    {{ surrogate_key(['l.channel_code']) }} as channel_key,
    l.channel_code,
    l.quantity,
    l.unit_price_vnd,
    l.discount_vnd,
    l.revenue_vnd,
    l.cost_vnd,
    l.gross_margin_vnd,
    fx.rate as fx_rate_to_reporting,
    round(l.revenue_vnd * fx.rate, 2) as revenue_reporting,
    round(l.cost_vnd * fx.rate, 2) as cost_reporting,
    l.delivered_on
from lines as l
left join {{ ref('dim_customer') }} as c
    on
        l.customer_code = c.customer_code
        and {{ in_force_on('c', 'l.order_date') }}
{{ fx_asof_join("'VND'", 'l.order_date') }}
