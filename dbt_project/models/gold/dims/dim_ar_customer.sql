{#- AR customers, SCD Type 2 on payment behaviour and value segment. A customer's standing
    is recomputed at the end of every day something happens to it (an invoice posted or
    cleared), from everything delivered up to that day; a new version starts when the
    behaviour or the segment changes. Customers touched by the window are rebuilt whole,
    so re-runs give the same versions. -#}
-- depends_on: {{ ref('stg_ar_invoice_deliveries') }}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='customer_number') }}

with history as (
    select * from {{ ref('stg_ar_invoice_history') }}
    {% if is_incremental() %}
    where customer_number in (select customer_number from {{ ref('stg_ar_invoice_deliveries') }})
    {% endif %}
),

first_states as (  -- the day an invoice became known: it adds to what the customer was billed
    select customer_number, valid_from as event_day, amount_reporting
    from history
    where state_version = 1
),

clearings as (  -- the day a clearing became known: it adds to the payment record
    select
        customer_number,
        valid_from as event_day,
        {{ dbt.datediff('due_date', 'payment_date', 'day') }} as days_late
    from history
    where not is_open
    qualify row_number() over (partition by doc_id order by state_version) = 1
),

daily as (
    select
        customer_number,
        event_day,
        sum(invoiced) as invoiced,
        sum(paid) as paid,
        sum(days_late) as days_late
    from (
        select customer_number, event_day, amount_reporting as invoiced, 0 as paid, 0 as days_late from first_states
        union all
        select customer_number, event_day, 0, 1, days_late from clearings
    ) as events
    group by customer_number, event_day
),

running as (
    select
        customer_number,
        event_day,
        sum(invoiced) over w as invoiced_to_date,
        sum(paid) over w as invoices_paid_to_date,
        sum(days_late) over w as days_late_to_date
    from daily
    window w as (partition by customer_number order by event_day rows between unbounded preceding and current row)
),

standing as (
    select
        *,
        case when invoices_paid_to_date > 0 then days_late_to_date * 1.0 / invoices_paid_to_date end as avg_days_late,
        case
            when invoices_paid_to_date = 0 then 'no_payment_history'
            when days_late_to_date * 1.0 / invoices_paid_to_date <= 0 then 'on_time'
            when days_late_to_date * 1.0 / invoices_paid_to_date <= 10 then 'slightly_late'
            when days_late_to_date * 1.0 / invoices_paid_to_date <= 30 then 'late'
            else 'very_late'
        end as payment_behavior,
        case
            when invoiced_to_date < 100000 then 'small'
            when invoiced_to_date < 1000000 then 'mid'
            else 'key'
        end as value_segment
    from running
),

changes as (
    select *
    from (
        select
            *,
            lag(payment_behavior) over (partition by customer_number order by event_day) as previous_behavior,
            lag(value_segment) over (partition by customer_number order by event_day) as previous_segment
        from standing
    ) as compared
    where previous_behavior is null
        or previous_behavior <> payment_behavior
        or previous_segment <> value_segment
),

names as (  -- descriptive attributes: latest value (type 1)
    select customer_number, customer_name, business_code, payment_terms
    from history
    qualify row_number() over (partition by customer_number order by valid_from desc, state_version desc, doc_id desc) = 1
)

select
    {{ surrogate_key(['c.customer_number', 'c.event_day']) }} as customer_key,
    c.customer_number,
    n.customer_name,
    n.business_code,
    n.payment_terms,
    c.payment_behavior,
    c.value_segment,
    c.avg_days_late,
    c.invoices_paid_to_date,
    c.invoiced_to_date,
    c.event_day as valid_from,
    lead(c.event_day) over (partition by c.customer_number order by c.event_day) as valid_to,
    lead(c.event_day) over (partition by c.customer_number order by c.event_day) is null as is_current
from changes as c
join names as n on n.customer_number = c.customer_number
