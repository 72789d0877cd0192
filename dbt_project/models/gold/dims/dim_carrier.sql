{#- Carriers from the carrier map, plus the `unknown` member. -#}
{{ config(materialized='table') }}

with carriers as (
    select distinct
        carrier_code,
        carrier_name,
        carrier_type
    from {{ ref('carrier_map') }}
    union all
    select
        'unknown',
        'Unknown carrier',
        'unknown'
)

select
    {{ surrogate_key(['carrier_code']) }} as carrier_key,
    *
from carriers
