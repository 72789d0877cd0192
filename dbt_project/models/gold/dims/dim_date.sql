{#- Calendar dimension. Not partitioned: it covers a fixed span (vars calendar_start, calendar_end_exclusive)
    and is rebuilt whole, in well under a second. -#}
{{ config(materialized='table') }}

with spine as (
    {{ dbt.date_spine('day', "cast('" ~ var('calendar_start') ~ "' as date)", "cast('" ~ var('calendar_end_exclusive') ~ "' as date)") }}  -- noqa: LT15 (the blank lines are the macro's output)
)

select
    {{ date_key('date_day') }} as date_key,
    cast(date_day as date) as date_day,
    extract(year from date_day) as year,
    extract(quarter from date_day) as quarter,
    extract(month from date_day) as month,
    extract(day from date_day) as day_of_month,
    extract(isodow from date_day) as iso_day_of_week,
    extract(week from date_day) as iso_week,
    extract(isodow from date_day) in (6, 7) as is_weekend,
    cast(date_day as date) = cast({{ dbt.last_day('date_day', 'month') }} as date) as is_month_end
from spine
