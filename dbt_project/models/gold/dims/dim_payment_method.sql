{#- Payment methods from the method map, plus the `unknown` member. -#}
{{ config(materialized='table') }}

with methods as (
    select distinct
        method_code,
        method_name,
        method_type,
        expects_bank_line,
        settles_instantly
    from {{ ref('payment_method_map') }}
    union all
    select
        'unknown',
        'Unknown method',
        'unknown',
        false,
        false
)

select
    {{ surrogate_key(['method_code']) }} as payment_method_key,
    *
from methods
