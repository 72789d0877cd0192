{#- AR customers, SCD Type 2 on payment behaviour and value segment. The segment follows the
    customer's ledger: invoiced to date against the ledger's customers in the month
    (ftr_ledger_value_thresholds), else fixed reporting-currency thresholds. A customer's standing
    is recomputed at the end of every day something happens to it (an invoice posted or
    cleared), from everything delivered up to that day; a new version starts when the
    behaviour or the segment changes. Customers touched by the window are written whole
    (all their versions), so re-runs give the same versions. -#}
-- depends_on: {{ ref('stg_ar_invoice_deliveries') }}
-- depends_on: {{ ref('ftr_ar_customer_payment') }}
-- depends_on: {{ ref('ftr_ledger_value_thresholds') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_number',
    pre_hook="{{ delete_withdrawn('customer_number') }}"
) }}

{#- A short window at the end of the history (a new day, or that day again) continues each
    touched customer's versions from its record before the window instead of recomputing its
    whole history, which grew a new day's cost with history. A window with later deliveries
    (a past day re-run) recomputes the customers whole, so their later versions follow. -#}
{% set continue_versions = false %}
{% if execute and is_incremental() and is_short_window() %}
    {% set newest = run_query("select max(valid_from) from " ~ ref('stg_ar_invoice_history')).columns[0].values()[0] %}
    {% set continue_versions = (newest is none or (newest | string)[:10] <= window_bound('END'))
        and not window_withdrew_invoices() %}
{% endif %}

with history as (
    select * from {{ live_invoice_history() }}
    {% if continue_versions %}
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

first_states as (  -- the day an invoice became known: it adds to what the customer was billed
    select
        customer_number,
        valid_from as event_day,
        amount_reporting
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
    qualify row_number() over (
        partition by doc_id
        order by state_version
    ) = 1
),

daily as (
    select
        customer_number,
        event_day,
        {{ exact_sum('invoiced') }} as invoiced,
        sum(paid) as paid,
        sum(days_late) as days_late
    from (
        select
            customer_number,
            event_day,
            amount_reporting as invoiced,
            0 as paid,
            0 as days_late
        from first_states
        union all
        select
            customer_number,
            event_day,
            0,
            1,
            days_late
        from clearings
    ) as events
    {% if continue_versions %}
    where {{ in_partition_window('event_day') }}
    {% endif %}
    group by customer_number, event_day
    {% if continue_versions %}
    union all
    -- each touched customer's record before the window, as one day whose events add up to it:
    -- amounts billed from the history, payments and days late from the customer's payment
    -- record (the same first clearing per invoice; days late come back whole from their average)
    select
        b.customer_number,
        {{ window_start() }} - 1,
        b.invoiced,
        coalesce(p.invoices_paid, 0),
        coalesce(p.days_late, 0)
    from (
        select customer_number, {{ exact_sum('amount_reporting') }} as invoiced
        from {{ live_invoice_history() }}
        where state_version = 1 and valid_from < {{ window_start() }}
            and customer_number in (select customer_number from history)
        group by customer_number
    ) as b
    left join ({{ record_before_window(ref('ftr_ar_customer_payment'), 'select customer_number from history') }}) as p
        on p.customer_number = b.customer_number
    {% endif %}
),

running as (
    select
        customer_number,
        event_day,
        round(sum(invoiced) over w, 2) as invoiced_to_date,  -- amounts are in cents: exact whatever the order summed
        sum(paid) over w as invoices_paid_to_date,
        sum(days_late) over w as days_late_to_date
    from daily
    window w as (
        partition by customer_number
        order by event_day rows between unbounded preceding and current row
    )
),

ledgers as (
    select
        customer_number,
        business_code as segment_ledger
    from {{ customer_ledgers() }}
    where customer_number in (select customer_number from history)
),
{% if continue_versions %}

version_before as (  -- each touched customer's segment in force before the window
    select
        customer_number,
        value_segment
    from {{ this }}
    where customer_number in (select customer_number from history) and valid_from < {{ window_start() }}
    qualify row_number() over (
        partition by customer_number
        order by valid_from desc
    ) = 1
),
{% endif %}

standing as (
    select
        r.*,
        case when invoices_paid_to_date > 0 then days_late_to_date * 1.0 / invoices_paid_to_date end as avg_days_late,
        case
            when invoices_paid_to_date = 0 then 'no_payment_history'
            when days_late_to_date * 1.0 / invoices_paid_to_date <= 0 then 'on_time'
            when days_late_to_date * 1.0 / invoices_paid_to_date <= 10 then 'slightly_late'
            when days_late_to_date * 1.0 / invoices_paid_to_date <= 30 then 'late'
            else 'very_late'
        end as payment_behavior,
        -- the record before the window stands for the version in force then: its segment is that
        -- version's, as judged in its own month (the month of the window's eve may judge anew)
        coalesce(
            {{ 'b.value_segment' if continue_versions else 'null' }}, {{ value_segment('invoiced_to_date', 'l.segment_ledger', 't') }}
        ) as value_segment
    from running as r
    left join ledgers as l on r.customer_number = l.customer_number
    left join {{ ref('ftr_ledger_value_thresholds') }} as t
        on
            l.segment_ledger = t.business_code
            and cast(date_trunc('month', r.event_day) as date) = t.segment_month
    {% if continue_versions %}
    left join version_before as b on r.customer_number = b.customer_number and r.event_day < {{ window_start() }}
    {% endif %}
),

changes as (
    select *
    from (
        select
            *,
            lag(payment_behavior) over (
                partition by customer_number
                order by event_day
            ) as previous_behavior,
            lag(value_segment) over (
                partition by customer_number
                order by event_day
            ) as previous_segment
        from standing
    ) as compared
    where (
        previous_behavior is null
        or previous_behavior <> payment_behavior
        or previous_segment <> value_segment
    )
    {% if continue_versions %}and {{ in_partition_window('event_day') }}{% endif %}
),
{% if continue_versions %}

versions as (  -- the touched customers' versions before the window, and the window's new ones
    select customer_number, payment_behavior, value_segment, avg_days_late, invoices_paid_to_date,
           invoiced_to_date, valid_from as event_day
    from {{ this }}
    where customer_number in (select customer_number from history) and valid_from < {{ window_start() }}
    union all by name
    select customer_number, payment_behavior, value_segment, avg_days_late, invoices_paid_to_date,
           invoiced_to_date, event_day
    from changes
),
{% endif %}

names as (  -- descriptive attributes: latest value (type 1)
    select
        customer_number,
        customer_name,
        business_code,
        payment_terms
    from history
    qualify row_number() over (
        partition by customer_number
        order by valid_from desc, state_version desc, doc_id desc
    ) = 1
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
    lead(c.event_day) over (
        partition by c.customer_number
        order by c.event_day
    ) as valid_to,
    lead(c.event_day) over (
        partition by c.customer_number
        order by c.event_day
    ) is null as is_current
from {{ 'versions' if continue_versions else 'changes' }} as c
inner join names as n on c.customer_number = n.customer_number
