{#- A customer's payment record as of each day something happened to it (an invoice
    became known or cleared): invoices known and paid to date, payment completion rate,
    average days late, open amount, and the same record at the customer's previous
    event day, so a feature's jump between runs is visible (and checked). Built from the
    SCD2 invoice history: a row of day D uses only what was delivered by day D. A backfill
    recomputes the customers the window touched over their whole history; a short window
    continues from their last row before it. Only the window's days are written. -#}
-- depends_on: {{ ref('stg_ar_invoice_deliveries') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

{#- A short window (a new day) continues each customer's record from its last row before the
    window instead of recomputing its whole history, which grew a new day's cost with history:
    only the window's invoices are read, and the running sums start from that row. -#}
{% set continue_record = is_incremental() and is_short_window() and not window_withdrew_invoices() %}

with history as (
    select * from {{ live_invoice_history() }}
    {% if continue_record %}
    where {{ changed_in_window(ref('stg_ar_invoice_history')) }}
    {% elif is_incremental() %}
    -- the customers the window delivered to, and those of invoices it withdrew
    where customer_number in (select customer_number from {{ ref('stg_ar_invoice_deliveries') }})
        or customer_number in (
            select customer_number from {{ ref('stg_ar_invoice_history') }}
            where {{ in_partition_window('valid_from') }}
        )
    {% endif %}
),

states as (
    select
        *,
        min(case when not is_open then state_version end) over (partition by doc_id) as first_closed_version,
        lag(case when is_open then amount_reporting else 0 end, 1, 0)
            over (
                partition by doc_id
                order by state_version
            ) as previous_open_amount
    from history
),

events as (  -- per invoice state: what it changes in the customer's record on the day it became known
    select
        customer_number,
        valid_from as as_of_date,
        case when state_version = 1 then 1 else 0 end as posted,
        case when state_version = first_closed_version then 1 else 0 end as paid,
        case
            when state_version = first_closed_version then {{ dbt.datediff('due_date', 'payment_date', 'day') }}
            else 0
        end as days_late,
        (case when is_open then amount_reporting else 0 end) - previous_open_amount as open_amount_change
    from states
),

daily as (
    select
        customer_number,
        as_of_date,
        sum(posted) as posted,
        sum(paid) as paid,
        sum(days_late) as days_late,
        {{ exact_sum('open_amount_change') }} as open_amount_change
    from events
    {% if continue_record %}
    where {{ in_partition_window('as_of_date') }}
    {% endif %}
    group by customer_number, as_of_date
    {% if continue_record %}
    union all
    -- the customer's record at its last row before the window, as one day whose events add up
    -- to it: the running sums continue from there, and the window's first row compares with it
    select customer_number, as_of_date, invoices_known, invoices_paid, days_late, open_amount
    from ({{ record_before_window(this, "select customer_number from events where " ~ in_partition_window('as_of_date')) }})
    {% endif %}
),

running as (
    select
        customer_number,
        as_of_date,
        sum(posted) over w as invoices_known_to_date,
        sum(paid) over w as invoices_paid_to_date,
        sum(days_late) over w as days_late_to_date,
        sum(open_amount_change) over w as open_amount
    from daily
    window w as (
        partition by customer_number
        order by as_of_date rows between unbounded preceding and current row
    )
),

rated as (
    select
        *,
        invoices_paid_to_date * 1.0 / nullif(invoices_known_to_date, 0) as payment_completion_rate,
        days_late_to_date * 1.0 / nullif(invoices_paid_to_date, 0) as avg_days_late
    from running
)

select
    as_of_date,
    customer_number,
    invoices_known_to_date,
    invoices_paid_to_date,
    payment_completion_rate,
    avg_days_late,
    round(open_amount, 2) as open_amount,
    lag(as_of_date) over w as previous_as_of_date,
    lag(invoices_known_to_date) over w as previous_invoices_known,
    lag(payment_completion_rate) over w as previous_payment_completion_rate,
    payment_completion_rate - lag(payment_completion_rate) over w as payment_completion_rate_change
from rated
window
    w as (
        partition by customer_number
        order by as_of_date
    )
qualify {{ in_partition_window('as_of_date') }}
