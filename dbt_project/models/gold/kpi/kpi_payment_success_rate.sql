{#- Payment success per day: attempts that settled that day (paid or failed), the success
    rate paid / (paid + failed), amounts, and what was still pending at the end of the day
    (initiated by then, not settled by then). Stable once the day is over: every figure uses
    only payments dated on or before it. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with days as (
    {{ model_days("(select min(payment_date) from " ~ ref('fact_payments') ~ ")", "select max(payment_date) from " ~ ref('fact_payments')) }}
),

settled as (
    select
        settled_date,
        count(*) filter (where status = 'paid') as payments_paid,
        count(*) filter (where status = 'failed') as payments_failed,
        sum(amount_vnd) filter (where status = 'paid') as paid_amount_vnd,
        sum(amount_vnd) filter (where status = 'failed') as failed_amount_vnd
    from {{ ref('fact_payments') }}
    where settled_date between {{ window_start() }} and {{ window_end() }}
    group by settled_date
),

pending as (
    select
        d.as_of_date,
        count(*) as payments_pending,
        sum(p.amount_vnd) as pending_amount_vnd
    from days as d
    inner join {{ ref('fact_payments') }} as p
        on
            d.as_of_date >= p.payment_date
            and coalesce(p.settled_date, cast('2999-12-31' as date)) > d.as_of_date
    group by d.as_of_date
)

select
    d.as_of_date,
    {{ date_key('d.as_of_date') }} as as_of_date_key,
    coalesce(s.payments_paid, 0) + coalesce(s.payments_failed, 0) as payments_settled,
    coalesce(s.payments_paid, 0) as payments_paid,
    coalesce(s.payments_failed, 0) as payments_failed,
    round(s.payments_paid * 1.0 / nullif(s.payments_paid + s.payments_failed, 0), 4) as success_rate,
    coalesce(s.paid_amount_vnd, 0) as paid_amount_vnd,
    coalesce(s.failed_amount_vnd, 0) as failed_amount_vnd,
    coalesce(p.payments_pending, 0) as payments_pending_at_day_end,
    coalesce(p.pending_amount_vnd, 0) as pending_amount_vnd
from days as d
left join settled as s on d.as_of_date = s.settled_date
left join pending as p on d.as_of_date = p.as_of_date
