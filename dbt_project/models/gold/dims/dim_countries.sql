{#- Countries (ISO 3166), plus the `unknown` member. -#}
{{ config(materialized='table') }}

with countries as (
    select
        country_code,
        iso3,
        country_name,
        region,
        currency_code
    from {{ ref('countries') }}
    union all
    select
        'ZZ',
        'ZZZ',
        'Unknown country',
        'unknown',
        null
)

select
    {{ surrogate_key(['country_code']) }} as country_key,
    *
from countries
