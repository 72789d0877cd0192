{#- Sales channels from the channel map, plus the `unknown` member spellings nobody mapped fall to. -#}
{{ config(materialized='table') }}

with channels as (
    select distinct
        channel_code,
        channel_name,
        channel_type
    from {{ ref('channel_map') }}
    union all
    select
        'unknown',
        'Unknown channel',
        'unknown'
)

select
    {{ surrogate_key(['channel_code']) }} as channel_key,
    channel_code,
    channel_name,
    channel_type
from channels
