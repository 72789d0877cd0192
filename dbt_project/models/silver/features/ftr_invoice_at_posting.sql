{#- Each AR invoice as known at the end of the day it was first delivered (its posting, in
    practice), with its customer's payment record from every *other* invoice delivered by
    that day. Point-in-time by construction: a prior invoice counts as paid only if its
    clearing had been delivered by then, so a later payment never reaches an earlier row.
    One row per invoice, written once for its day; the payment-date and collection models
    train and score on these columns, so training and serving see the same features.
    Beside the customer's whole record: its days late weighted toward the recent ones (a
    habit that drifts), and its other invoices open past their due date that day (a slow
    payer's only signal while its invoices are still unpaid). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('known_on') }}"
) }}
{#- Day numbers count from here: the recency weights are powers of two of them (see events). -#}
{%- set day_zero = "cast('2000-01-01' as date)" %}

with history as (
    select * from {{ live_invoice_history() }}
),

invoices as (  -- the window's new invoices, in their first delivered state
    select
        doc_id,
        invoice_id,
        customer_number,
        business_code,
        currency,
        invoice_date,
        due_date,
        payment_terms,
        amount_reporting,
        {{ ar_extra_names() | join(',\n        ') }},
        valid_from as known_on,
        -- open past its due date on its own first day: its own overdue row (below) is taken out
        case when is_open and due_date < valid_from then 1 else 0 end as own_overdue
    from history
    where state_version = 1 and {{ in_partition_window('valid_from') }}
),

docs as (  -- every invoice of the same customers: when it became known, when its payment did
    select
        doc_id,
        customer_number,
        min(valid_from) as opened_on,
        min(case when state_version = 1 then amount_reporting end) as opening_amount,
        min(case when state_version = 1 then due_date end) as due_date,
        min(case when not is_open then valid_from end) as paid_known_on,
        arg_min(
            case when not is_open then {{ dbt.datediff('due_date', 'payment_date', 'day') }} end,
            case when not is_open then state_version end
        ) as days_late,
        arg_min(case when not is_open then payment_date end, case when not is_open then state_version end) as payment_date
    from history
    where customer_number in (select customer_number from invoices)
    group by doc_id, customer_number
),

doc_events as (
    -- per invoice: the day it became known and the day its payment did (one row if the same day),
    -- and the days it began and stopped counting as open past its due date
    select
        doc_id,
        customer_number,
        opened_on as event_on,
        true as is_opening,
        1 as opened,
        opening_amount as opened_amount,
        case when paid_known_on = opened_on then 1 else 0 end as paid,
        case when paid_known_on = opened_on then opening_amount end as paid_amount,
        case when paid_known_on = opened_on then days_late end as days_late,
        case when paid_known_on = opened_on then payment_date end as payment_date,
        0 as overdue,
        0.0 as overdue_amount,
        0 as overdue_due_day
    from docs
    where opened_on <= {{ window_end() }}
    union all
    select
        doc_id,
        customer_number,
        paid_known_on,
        false,
        0,
        null,
        1,
        opening_amount,
        days_late,
        payment_date,
        0,
        0.0,
        0
    from docs
    where paid_known_on > opened_on and paid_known_on <= {{ window_end() }}
    -- Open past due from the day after its due date (or its first day, if later) until its
    -- payment is known: +1 on the first of those days, -1 on the day the payment is known, so
    -- both paths below sum it over event days like the others. An invoice paid by the day after
    -- its due date never counts and gets no rows.
    union all
    select
        doc_id,
        customer_number,
        overdue_on,
        false,
        0,
        null,
        0,
        null,
        null,
        null,
        step,
        step * opening_amount,
        step * due_day
    from (
        select
            d.doc_id,
            d.customer_number,
            d.opening_amount,
            s.step,
            case when s.step = 1 then greatest(d.opened_on, d.due_date + 1) else d.paid_known_on end as overdue_on,
            {{ dbt.datediff(day_zero, 'd.due_date', 'day') }} as due_day
        from docs as d
        cross join (values (1), (-1)) as s (step)
        where coalesce(d.paid_known_on > d.due_date + 1, true)
    ) as steps
    where overdue_on <= {{ window_end() }}
),

events as (
    -- A payment's weight in the recent days-late average doubles every half-life: a ratio of
    -- sums, so the day it counts from cancels out and both paths below sum it like the others
    -- (2^(days / 90) stays finite for events between the years 1750 and 2250).
    select
        *,
        case
            when days_late is not null
                then pow(2.0, {{ dbt.datediff(day_zero, 'event_on', 'day') }} / {{ var('recent_days_late_half_life_days') }})
        end as late_weight
    from doc_events
),

-- the window's invoices, on the day each became known, with what their own opening row adds to
-- that day (a payment too, when delivered already paid); read in the Jinja branches below
openings as (  -- noqa: ST03
    select
        doc_id,
        customer_number,
        event_on,
        opened,
        paid,
        days_late,
        opened_amount,
        paid_amount,
        payment_date,
        late_weight
    from events
    where is_opening and {{ in_partition_window('event_on') }}
),

{% if not is_short_window() -%}
    record as (
    -- Running totals over the customer's events up to the end of the invoice's own day, less
    -- the invoice itself (`exclude current row` on its opening row, which also carries its
    -- payment when it was delivered already paid). One sorted pass per customer instead of
    -- pairing every invoice with every other one: that pairing grew with the square of a
    -- large customer's invoice count and spilled past the disk at ~200k invoices.
        select
            doc_id,
            cast(sum(opened) over so_far as bigint) as prior_invoices,  -- a sum is hugeint in DuckDB
            cast(sum(paid) over so_far as bigint) as prior_paid_invoices,
            median(days_late) over so_far as prior_median_days_late,
            avg(days_late) over so_far as prior_mean_days_late,
            stddev_samp(days_late) over so_far as prior_sd_days_late,
            cast(sum(case when days_late > 30 then 1 else 0 end) over so_far as bigint) as prior_paid_over_30_late,
            max(payment_date) over so_far as prior_last_payment_date,
            sum(opened_amount) over so_far as prior_opened_amount,
            sum(paid_amount) over so_far as prior_paid_amount,
            sum(late_weight * days_late) over so_far / sum(late_weight) over so_far as prior_recent_days_late,
            cast(sum(overdue) over so_far as bigint) as overdue_open,
            sum(overdue_amount) over so_far as overdue_amount,
            sum(overdue_due_day) over so_far as overdue_due_days
        from events
        window
            so_far as (
                partition by customer_number
                order by event_on
                range between unbounded preceding and current row exclude current row
            )
        qualify is_opening and {{ in_partition_window('event_on') }}
    )
{%- else -%}
{#- A short window (a new day, a catch-up of a few days) must not cost more as history grows,
    and the framed window above sorts every event of every customer with an invoice in the
    window, though only the window's invoices are kept. Here each invoice's record is the sum
    of two parts: its customer's events before the window, summed once per customer, and the
    window's own events known by the invoice's day (less the invoice itself). The median of
    days late comes from counts the same way: per customer, how many payments before the window
    were each number of days late, plus the window's own, and the middle value(s) found from the
    running count. Exactly the backfill's figures (the average of the two middle values when
    the count is even). The window's part is computed per customer and day, never per pair of
    invoices, so a day's cost grows with its invoices, not with their square. -#}
{#- what a customer's events add up to, before the window and per day of it -#}
{% set event_sums %}
        sum(opened) as opened,
        sum(paid) as paid,
        count(days_late) as late_known,
        sum(days_late) as late_sum,
        sum(days_late::double * days_late) as late_squares,
        sum(case when days_late > 30 then 1 else 0 end) as over_30,
        {{ exact_sum('opened_amount') }} as opened_amount,
        {{ exact_sum('paid_amount') }} as paid_amount,
        sum(late_weight * days_late) as late_weighted,
        sum(late_weight) as late_weights,
        sum(overdue) as overdue,
        {{ exact_sum('overdue_amount') }} as overdue_amount,
        sum(overdue_due_day) as overdue_due_days
{%- endset %}
before_window as (
    select
        customer_number,
        max(payment_date) as last_payment_date,
        {{ event_sums }}
    from events
    where event_on < {{ window_start() }}
    group by customer_number
),

window_days as (  -- per customer and day of the window: what its events add
    select
        customer_number,
        event_on,
        {{ event_sums }}
    from events
    where {{ in_partition_window('event_on') }}
    group by customer_number, event_on
),

known_by_day as (  -- per customer and day of the window: the window's events known by the end of it
    select
        customer_number,
        event_on,
        sum(opened) over so_far as opened,
        sum(paid) over so_far as paid,
        sum(late_known) over so_far as late_known,
        sum(late_sum) over so_far as late_sum,
        sum(late_squares) over so_far as late_squares,
        sum(over_30) over so_far as over_30,
        sum(opened_amount) over so_far as opened_amount,
        sum(paid_amount) over so_far as paid_amount,
        sum(late_weighted) over so_far as late_weighted,
        sum(late_weights) over so_far as late_weights,
        sum(overdue) over so_far as overdue,
        sum(overdue_amount) over so_far as overdue_amount,
        sum(overdue_due_days) over so_far as overdue_due_days
    from window_days
    window so_far as (partition by customer_number order by event_on rows between unbounded preceding and current row)
),

-- Per invoice, the window's other events known by its day are its customer's known_by_day less its
-- own opening row (its payment, if any, is on that row or a later day). Pairing each invoice with
-- the other invoices of its day grew with the square of a customer's invoices in one day: a day of
-- 2M invoices over a few hundred customers did not finish. Sums subtract; the latest payment date
-- and the median take the invoice's own value out of per-day figures (below).
payment_dates as (  -- per customer and day of the window: each payment date known by then, and how often
    select
        d.customer_number,
        d.event_on,
        e.payment_date,
        count(*) as times
    from (select distinct
        customer_number,
        event_on
    from openings) as d
    join events as e
        on e.customer_number = d.customer_number
        and e.event_on between {{ window_start() }} and d.event_on
        and e.payment_date is not null
    group by d.customer_number, d.event_on, e.payment_date
),

latest_payments as (  -- the latest payment date with its count, and the one before it
    select
        customer_number,
        event_on,
        max(case when newest = 1 then payment_date end) as latest,
        max(case when newest = 1 then times end) as latest_times,
        max(case when newest = 2 then payment_date end) as before_latest
    from (
        select
            *,
            row_number() over (partition by customer_number, event_on order by payment_date desc) as newest
        from payment_dates
    ) as ranked
    where newest <= 2
    group by customer_number, event_on
),

in_window as (  -- per invoice of the window: the window's other events known by its day
    select
        o.doc_id,
        k.opened - o.opened as opened,
        k.paid - o.paid as paid,
        k.late_known - (case when o.days_late is not null then 1 else 0 end) as late_known,
        k.late_sum - coalesce(o.days_late, 0) as late_sum,
        k.late_squares - coalesce(o.days_late::double * o.days_late, 0) as late_squares,
        k.over_30 - (case when o.days_late > 30 then 1 else 0 end) as over_30,
        case
            when o.payment_date = l.latest and l.latest_times = 1 then l.before_latest else l.latest
        end as last_payment_date,
        k.opened_amount - coalesce(o.opened_amount, 0) as opened_amount,
        k.paid_amount - coalesce(o.paid_amount, 0) as paid_amount,
        k.late_weighted - coalesce(o.late_weight * o.days_late, 0) as late_weighted,
        k.late_weights - coalesce(o.late_weight, 0) as late_weights,
        k.overdue,  -- an opening row counts no overdue: the invoice's own overdue row is taken out below
        k.overdue_amount,
        k.overdue_due_days
    from openings as o
    join known_by_day as k on k.customer_number = o.customer_number and k.event_on = o.event_on
    left join latest_payments as l on l.customer_number = o.customer_number and l.event_on = o.event_on
),

sums as (
    select
        doc_id,
        sum(opened) as opened,
        sum(paid) as paid,
        sum(late_known) as late_known,
        sum(late_sum) as late_sum,
        sum(late_squares) as late_squares,
        sum(over_30) as over_30,
        max(last_payment_date) as last_payment_date,
        {{ exact_sum('opened_amount') }} as opened_amount,
        {{ exact_sum('paid_amount') }} as paid_amount,
        sum(late_weighted) as late_weighted,
        sum(late_weights) as late_weights,
        sum(overdue) as overdue,
        {{ exact_sum('overdue_amount') }} as overdue_amount,
        sum(overdue_due_days) as overdue_due_days
    from (
        select o.doc_id, b.* exclude (customer_number)
        from openings as o
        join before_window as b on b.customer_number = o.customer_number
        union all by name
        select * from in_window
    ) as parts
    group by doc_id
),

paid_before_window as (  -- per customer: how many payments before the window were each number of days late
    select customer_number, days_late, count(*) as times
    from events
    where days_late is not null and event_on < {{ window_start() }}
    group by customer_number, days_late
),

window_days_late as (  -- per customer and day of the window: how many payments were each number of days late
    select customer_number, event_on, days_late, count(*) as times
    from events
    where days_late is not null and {{ in_partition_window('event_on') }}
    group by customer_number, event_on, days_late
),

-- The invoices of one customer and day with the same own days late (mostly none) share a median.
median_groups as (
    select distinct
        customer_number,
        event_on,
        days_late as own_late
    from openings
),

known_days_late as (  -- per group: each days-late value known by its day, and how often, its own taken out
    select g.customer_number, g.event_on, g.own_late, b.days_late, b.times
    from median_groups as g
    join paid_before_window as b on b.customer_number = g.customer_number
    union all
    select g.customer_number, g.event_on, g.own_late, w.days_late, w.times
    from median_groups as g
    join window_days_late as w on w.customer_number = g.customer_number and w.event_on <= g.event_on
    union all
    select customer_number, event_on, own_late, own_late, -1
    from median_groups
    where own_late is not null
),

running_counts as (
    select
        customer_number,
        event_on,
        own_late,
        days_late,
        sum(times) over (partition by customer_number, event_on, own_late order by days_late) as known_up_to,
        sum(times) over (partition by customer_number, event_on, own_late) as known
    from (
        select customer_number, event_on, own_late, days_late, sum(times) as times
        from known_days_late
        group by customer_number, event_on, own_late, days_late
        having sum(times) > 0  -- a value only the invoice itself had is not known to it
    ) as counted
),

group_medians as (
    select
        customer_number,
        event_on,
        own_late,
        (min(days_late) filter (where known_up_to >= (known + 1) // 2)
         + min(days_late) filter (where known_up_to >= known // 2 + 1)) / 2 as prior_median_days_late
    from running_counts
    group by customer_number, event_on, own_late
),

medians as (
    select
        o.doc_id,
        m.prior_median_days_late
    from openings as o
    join group_medians as m
        on m.customer_number = o.customer_number
        and m.event_on = o.event_on
        and m.own_late is not distinct from o.days_late
),

record as (
    select
        s.doc_id,
        cast(s.opened as bigint) as prior_invoices,  -- a sum is hugeint in DuckDB
        cast(s.paid as bigint) as prior_paid_invoices,
        m.prior_median_days_late,
        s.late_sum / nullif(s.late_known, 0) as prior_mean_days_late,
        -- the sample standard deviation from the sums (days late are whole days: exact sums)
        case when s.late_known > 1
            then sqrt(greatest((s.late_squares - s.late_sum::double * s.late_sum / s.late_known) / (s.late_known - 1), 0))
        end as prior_sd_days_late,
        cast(s.over_30 as bigint) as prior_paid_over_30_late,
        s.last_payment_date as prior_last_payment_date,
        s.opened_amount as prior_opened_amount,
        s.paid_amount as prior_paid_amount,
        s.late_weighted / nullif(s.late_weights, 0) as prior_recent_days_late,
        cast(s.overdue as bigint) as overdue_open,
        s.overdue_amount,
        s.overdue_due_days
    from sums as s
    left join medians as m on m.doc_id = s.doc_id
)
{%- endif %},

overdue_at_posting as (  -- the customer's other invoices open past their due date at the end of the invoice's day
    select
        i.doc_id,
        coalesce(r.overdue_open, 0) - i.own_overdue as invoices,
        coalesce(r.overdue_amount, 0) - i.own_overdue * i.amount_reporting as amount,
        coalesce(r.overdue_due_days, 0)
        - i.own_overdue * {{ dbt.datediff(day_zero, 'i.due_date', 'day') }} as due_days,
        {{ dbt.datediff(day_zero, 'i.known_on', 'day') }} as day_number
    from invoices as i
    left join record as r on i.doc_id = r.doc_id
)

select
    i.doc_id,
    i.invoice_id,
    i.customer_number,
    i.business_code,
    i.currency,
    i.payment_terms,
    i.invoice_date,
    i.due_date,
    i.known_on,
    {{ date_key('i.known_on') }} as known_on_key,
    i.amount_reporting,
    ln(greatest(i.amount_reporting, 1)) as log_amount,
    {{ dbt.datediff('i.invoice_date', 'i.due_date', 'day') }} as terms_days,
    extract(isodow from i.invoice_date) as posting_day_of_week,
    extract(isodow from i.due_date) as due_day_of_week,
    extract(month from i.invoice_date) as posting_month,
    coalesce(r.prior_invoices, 0) as prior_invoices,
    coalesce(r.prior_paid_invoices, 0) as prior_paid_invoices,
    r.prior_median_days_late,
    r.prior_mean_days_late,
    r.prior_sd_days_late,
    r.prior_paid_over_30_late / nullif(r.prior_paid_invoices, 0) as prior_share_over_30_late,
    {{ dbt.datediff('r.prior_last_payment_date', 'i.known_on', 'day') }} as days_since_last_payment,
    coalesce(r.prior_invoices, 0) - coalesce(r.prior_paid_invoices, 0) as open_invoices_at_posting,
    round(coalesce(r.prior_opened_amount, 0) - coalesce(r.prior_paid_amount, 0), 2) as open_amount_at_posting,
    r.prior_recent_days_late,
    -- the invoice's amount against the customer's average invoice so far (log ratio; greatest
    -- would pass a first invoice's missing average over)
    case
        when r.prior_invoices > 0
            then ln(greatest(i.amount_reporting, 1) / greatest(r.prior_opened_amount / r.prior_invoices, 1))
    end as amount_vs_usual,
    o.invoices as overdue_invoices_at_posting,
    round(o.amount, 2) as overdue_amount_at_posting,
    (o.invoices * o.day_number - o.due_days) * 1.0 / nullif(o.invoices, 0) as overdue_mean_days_past_due,
    -- the ledger's extras as delivered with the invoice (null where it does not say); the flags as
    -- numbers, as the models read them
    cast(i.is_disputed as double) as is_disputed,
    cast(i.is_paperless as double) as is_paperless,
    i.channel,
    i.sales_rep
from invoices as i
left join record as r on i.doc_id = r.doc_id
left join overdue_at_posting as o on i.doc_id = o.doc_id
