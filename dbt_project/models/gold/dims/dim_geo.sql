{#- Geography at province grain: the provinces of Viet Nam, plus one country-level member per
    country for accounts abroad (no province) and the unknown member. geo_key hashes
    (country_code, province_code). -#}
{{ config(materialized='table') }}

with places as (
    select
        p.country_code,
        p.province_code,
        p.province_name,
        p.region
    from {{ ref('provinces') }} as p
    union all
    select
        c.country_code,
        null,
        null,
        c.region
    from {{ ref('dim_countries') }} as c
)

select
    {{ surrogate_key(['p.country_code', 'p.province_code']) }} as geo_key,
    p.country_code,
    c.country_name,
    c.country_key,
    p.province_code,
    p.province_name,
    p.region
from places as p
inner join {{ ref('dim_countries') }} as c on p.country_code = c.country_code
