{#- UC09, predicted cash-in by day: as of each day, the open invoices' amounts summed by
    the day they are predicted to be paid (a prediction already past counts for the next
    day: the invoice is still expected), and by the interval's early and late ends. -#}
{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_partition_window('score_date') }}") }}

with expected as (
    select
        score_date,
        open_amount,
        {{ still_expected('predicted_payment_date', 'score_date') }} as expected_date,
        {{ still_expected('interval_lower_date', 'score_date') }} as early_date,
        {{ still_expected('interval_upper_date', 'score_date') }} as late_date
    from {{ ref('score_payment_pred') }}
    where {{ in_partition_window('score_date') }}
),

by_day as (
    select
        score_date,
        expected_date as cash_date,
        open_amount as expected,
        0 as early,
        0 as late
    from expected
    union all
    select
        score_date,
        early_date,
        0,
        open_amount,
        0
    from expected
    union all
    select
        score_date,
        late_date,
        0,
        0,
        open_amount
    from expected
)

select
    score_date,
    {{ date_key('score_date') }} as score_date_key,
    cash_date,
    {{ date_key('cash_date') }} as cash_date_key,
    {{ dbt.datediff('score_date', 'cash_date', 'day') }} as days_ahead,
    round(sum(expected), 2) as predicted_cash_in,
    round(sum(early), 2) as cash_in_if_early,
    round(sum(late), 2) as cash_in_if_late
from by_day
group by score_date, cash_date
