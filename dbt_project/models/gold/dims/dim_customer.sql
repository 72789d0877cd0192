{#- Customers, SCD Type 2: one row per account version from stg_customers, with the
    surrogate key of the version (customer_code, valid_from) and keys to geography and
    country (a province the map does not know falls back to its country's member, an
    unknown country to the unknown member). Facts pick the version in force on their day.
    Rebuilt whole: a few rows per account. -#}
{{ config(materialized='table') }}

select
    {{ surrogate_key(['c.customer_code', 'c.valid_from']) }} as customer_key,
    c.customer_code,
    c.version,
    c.valid_from,
    c.valid_to,
    c.is_current,
    c.customer_name,
    c.segment,
    c.credit_limit_vnd,
    c.payment_terms_days,
    c.province_code,
    coalesce(country_level.country_code, 'ZZ') as country_code,
    coalesce(province_level.geo_key, country_level.geo_key, unknown.geo_key) as geo_key,
    coalesce(country_level.country_key, unknown.country_key) as country_key
from {{ ref('stg_customers') }} as c
left join {{ ref('dim_geo') }} as province_level
    on c.country_code = province_level.country_code and c.province_code = province_level.province_code
left join {{ ref('dim_geo') }} as country_level
    on c.country_code = country_level.country_code and country_level.province_code is null
inner join {{ ref('dim_geo') }} as unknown
    on unknown.country_code = 'ZZ'
where c.is_retracted is not true  -- withdrawn versions are in force on no day
