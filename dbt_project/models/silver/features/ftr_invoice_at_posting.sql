{#- Each AR invoice as known at the end of the day it was first delivered (its posting, in
    practice), with its customer's payment record from every *other* invoice delivered by
    that day. Point-in-time by construction: a prior invoice counts as paid only if its
    clearing had been delivered by then, so a later payment never reaches an earlier row.
    One row per invoice, written once for its day; the payment-date and collection models
    train and score on these columns, so training and serving see the same features. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('known_on') }}"
) }}

with history as (
    select * from {{ ref('stg_ar_invoice_history') }}
),

invoices as (  -- the window's new invoices, in their first delivered state
    select doc_id, invoice_id, customer_number, business_code, currency, invoice_date, due_date,
           payment_terms, amount_reporting, valid_from as known_on
    from history
    where state_version = 1 and {{ in_partition_window('valid_from') }}
),

peers as (  -- every invoice of the same customers: when it became known, when its payment did
    select
        doc_id,
        customer_number,
        min(valid_from) as opened_on,
        min(case when state_version = 1 then amount_reporting end) as opening_amount,
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

record as (
    select
        i.doc_id,
        count(*) as prior_invoices,
        count(p.paid_known_on) filter (where p.paid_known_on <= i.known_on) as prior_paid_invoices,
        median(p.days_late) filter (where p.paid_known_on <= i.known_on) as prior_median_days_late,
        avg(p.days_late) filter (where p.paid_known_on <= i.known_on) as prior_mean_days_late,
        stddev_samp(p.days_late) filter (where p.paid_known_on <= i.known_on) as prior_sd_days_late,
        avg(case when p.days_late > 30 then 1.0 else 0.0 end) filter (where p.paid_known_on <= i.known_on)
            as prior_share_over_30_late,
        max(p.payment_date) filter (where p.paid_known_on <= i.known_on) as prior_last_payment_date,
        count(*) filter (where p.paid_known_on is null or p.paid_known_on > i.known_on) as open_invoices_at_posting,
        coalesce(sum(p.opening_amount) filter (where p.paid_known_on is null or p.paid_known_on > i.known_on), 0)
            as open_amount_at_posting
    from invoices as i
    join peers as p
        on p.customer_number = i.customer_number
        and p.doc_id <> i.doc_id
        and p.opened_on <= i.known_on
    group by i.doc_id
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
    r.prior_share_over_30_late,
    {{ dbt.datediff('r.prior_last_payment_date', 'i.known_on', 'day') }} as days_since_last_payment,
    coalesce(r.open_invoices_at_posting, 0) as open_invoices_at_posting,
    round(coalesce(r.open_amount_at_posting, 0), 2) as open_amount_at_posting
from invoices as i
left join record as r on r.doc_id = i.doc_id
