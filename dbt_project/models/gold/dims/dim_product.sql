{#- Products, SCD Type 1: the latest name, category, price and cost per SKU. -#}
{{ config(materialized='table') }}

select
    {{ surrogate_key(['sku']) }} as product_key,
    sku,
    product_name,
    category,
    unit_price_vnd,
    unit_cost_vnd,
    updated_on
from {{ ref('stg_products') }}
