{#- The product catalogue, latest values per SKU (SCD Type 1: a price change overwrites). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='sku',
    pre_hook="{{ delete_undelivered('sku', source('bronze', 'products_raw'), 'trim(sku)') }}"
) }}

with latest as (
    {{ latest_delivered('products_raw', 'sku', 'updated_on desc, partition_date desc, _source_line desc') }}
)

select
    trim(sku) as sku,
    trim(product_name) as product_name,
    coalesce(nullif(trim(category), ''), 'unknown') as category,
    unit_price_vnd,
    unit_cost_vnd,
    updated_on,
    partition_date as delivered_on
from latest
