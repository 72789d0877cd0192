{#- Calendar features per business day: weekday, month, quarter, month end, Vietnamese
    public holidays, the days before them and the Tết season. Pure calendar, so any day can be
    computed; the model writes the partition window (without one: the span of order data). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with days as (
    {{ model_days("(select min(order_date) from " ~ ref('stg_orders') ~ ")", "select max(order_date) from " ~ ref('stg_orders')) }}
),

holidays as (
    select
        holiday_date,
        holiday_name,
        holiday_group
    from {{ ref('vn_holidays') }}
),

tet_starts as (  -- the first day off of each Tết break
    select t.holiday_date
    from holidays as t
    left join holidays as before on before.holiday_date = {{ dbt.dateadd('day', -1, 't.holiday_date') }} and before.holiday_group = 'tet'
    where t.holiday_group = 'tet' and before.holiday_date is null
),

next_holiday as (
    select
        d.as_of_date,
        min(h.holiday_date) as next_holiday_date,
        (
            select min(t.holiday_date) from tet_starts as t
            where t.holiday_date > d.as_of_date
        ) as next_tet_day
    from days as d
    left join holidays as h
        on
            d.as_of_date < h.holiday_date
            and h.holiday_date <= {{ dbt.dateadd('day', 400, 'd.as_of_date') }}
    group by d.as_of_date
)

select
    d.as_of_date,
    {{ date_key('d.as_of_date') }} as as_of_date_key,
    extract(isodow from d.as_of_date) as iso_day_of_week,
    dayname(d.as_of_date) as day_name,
    extract(isodow from d.as_of_date) in (6, 7) as is_weekend,
    extract(day from d.as_of_date) as day_of_month,
    extract(month from d.as_of_date) as month,
    extract(quarter from d.as_of_date) as quarter,
    extract(year from d.as_of_date) as year,
    d.as_of_date = cast({{ dbt.last_day('d.as_of_date', 'month') }} as date) as is_month_end,
    {{ dbt.datediff('d.as_of_date', dbt.last_day('d.as_of_date', 'month'), 'day') }} as days_to_month_end,
    h.holiday_date is not null as is_holiday,
    h.holiday_name,
    h.holiday_group,
    coalesce(h.holiday_group = 'tet', false) as is_tet_holiday,
    not(extract(isodow from d.as_of_date) in (6, 7) or h.holiday_date is not null) as is_business_day,
    {{ dbt.datediff('d.as_of_date', 'n.next_holiday_date', 'day') }} as days_to_next_holiday,
    h.holiday_date is null and {{ dbt.datediff('d.as_of_date', 'n.next_holiday_date', 'day') }} <= 3 as is_pre_holiday,
    {{ dbt.datediff('d.as_of_date', 'n.next_tet_day', 'day') }} as days_to_tet,
    h.holiday_date is null and {{ dbt.datediff('d.as_of_date', 'n.next_tet_day', 'day') }} <= 21 as is_tet_season
from days as d
left join holidays as h on d.as_of_date = h.holiday_date
left join next_holiday as n on d.as_of_date = n.as_of_date
