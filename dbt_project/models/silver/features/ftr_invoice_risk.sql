{#- Daily AR snapshot with risk features: for each business day, every invoice open at the
    end of that day or cleared on it, with days overdue, aging and flags computed as of that
    day (never the wall clock). Point-in-time correct: a row of day D uses only what was
    delivered by day D. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with history as (
    select * from {{ live_invoice_history() }}
),

days as (
    {{ model_days("select min(valid_from) from " ~ ref('stg_ar_invoice_history'), "select max(valid_from) from " ~ ref('stg_ar_invoice_history')) }}
),

span as (
    select
        min(as_of_date) as first_day,
        max(as_of_date) as last_day
    from days
),

in_force as (
    -- The days each state is in force at the end of the day, within the span: an open state
    -- from its delivery to the day before the next change; a cleared one only on its delivery
    -- day (unless changed again that same day). With both bounds as columns the join below is
    -- one range join; an `or` in its condition made it a nested loop over every state and day.
    select
        h.*,
        greatest(h.valid_from, s.first_day) as from_day,
        least(
            s.last_day,
            coalesce(h.valid_to - 1, s.last_day),
            case when h.is_open then s.last_day else h.valid_from end
        ) as to_day
    from history as h
    cross join span as s
    where h.valid_from <= s.last_day and (h.valid_to is null or h.valid_to > s.first_day)
),

snapshot as (
    -- joined from the days rather than listing each state's days: the rows come out near day
    -- order, so a day's rows share few row groups (one day's count at 5M invoices: 26 ms; listed
    -- per state, 214 ms)
    select
        days.as_of_date,
        f.* exclude (from_day, to_day)
    from days
    inner join in_force as f on days.as_of_date between f.from_day and f.to_day
),

measured as (
    select
        *,
        {{ dbt.datediff('due_date', 'case when is_open then as_of_date else payment_date end', 'day') }} as days_past_due,
        case when not is_open then {{ dbt.datediff('invoice_date', 'payment_date', 'day') }} end as days_to_pay,
        {{ dbt.datediff('invoice_date', 'as_of_date', 'day') }} as invoice_age_days
    from snapshot
)

select
    as_of_date,
    {{ date_key('as_of_date') }} as as_of_date_key,
    doc_id,
    invoice_id,
    customer_number,
    m.business_code,
    invoice_date,
    due_date,
    payment_date,
    m.currency,
    amount,
    amount_reporting,
    case when is_open then 'open' else 'paid' end as status,
    invoice_age_days,
    days_past_due,
    greatest(days_past_due, 0) as days_overdue,
    days_to_pay,
    case when is_open then {{ aging_bucket('greatest(days_past_due, 0)') }} end as aging_bucket,
    days_past_due > 30 as is_overdue_30,
    days_past_due > 60 as is_overdue_60,
    is_open and days_past_due > 90 as is_high_risk,
    {{ invoice_size_bracket('amount', 'amount_reporting', 'm.business_code') }} as invoice_size_bracket,
    {{ ar_extra_names() | join(',\n    ') }}
from measured as m
{{ join_size_thresholds('m') }}
