{#- Macroeconomic context per business day: the indicators of the newest month on or before
    the day (lending rate, CPI, USD/VND), their change on the month before, and how old they
    are. From the macro_indicators seed. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with days as (
    {{ model_days("(select min(order_date) from " ~ ref('stg_orders') ~ ")", "select max(order_date) from " ~ ref('stg_orders')) }}
),

indicators as (
    select
        month_start,
        lending_rate_pct,
        cpi_yoy_pct,
        usd_vnd,
        lag(lending_rate_pct) over (
            order by month_start
        ) as previous_lending_rate_pct,
        lag(usd_vnd) over (
            order by month_start
        ) as previous_usd_vnd
    from {{ ref('macro_indicators') }}
)

select
    d.as_of_date,
    {{ date_key('d.as_of_date') }} as as_of_date_key,
    i.month_start as indicator_month,
    {{ dbt.datediff('i.month_start', 'd.as_of_date', 'day') }} as indicator_age_days,
    i.lending_rate_pct,
    round(i.lending_rate_pct - i.previous_lending_rate_pct, 3) as lending_rate_change_mom,
    i.cpi_yoy_pct,
    i.usd_vnd,
    round(100.0 * (i.usd_vnd / nullif(i.previous_usd_vnd, 0) - 1), 3) as usd_vnd_change_mom_pct
from days as d
asof left join indicators as i on d.as_of_date >= i.month_start
