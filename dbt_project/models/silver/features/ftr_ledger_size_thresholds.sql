{#- What is a small, a medium or a large invoice depends on the business: for each ledger
    (company code and currency) and posting month, the median and the 90th percentile of the
    amounts (in the ledger's currency) of the invoices the ledger delivered in the 365 days
    before the month, each at its first delivered amount. Below the median is small, from the
    90th percentile large. Point in time: a month's thresholds read only deliveries made before
    it began, so once computed they never change, and a rerun, a short window and a backfill
    bracket an invoice alike. A ledger with fewer than var('size_bracket_min_invoices') such
    invoices has no row for the month: its invoices are bracketed by the fixed reporting-currency
    thresholds (vars invoice_size_small_below / invoice_size_medium_below). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_from_built_model('posting_month >= ' ~ first_window_month()) }}"
) }}

with months as (  -- posting months of the invoices delivered so far
    {{ months_to_compute('posting_month', 'invoice_date', ref('stg_ar_invoices')) }}
),

first_amounts as (  -- each invoice's first state in force, delivered in the year those months read
    select
        business_code,
        currency,
        amount,
        valid_from as first_delivered
    from {{ live_invoice_history() }}
    where
        state_version = 1
        and valid_from >= (select min(posting_month) - interval 365 day from months)
        and valid_from < (select max(posting_month) from months)
)

select
    m.posting_month,
    f.business_code,
    f.currency,
    count(*) as invoices_used,
    quantile_cont(f.amount, 0.5) as small_below,
    quantile_cont(f.amount, 0.9) as medium_below
from months as m
inner join first_amounts as f
    on
        m.posting_month - interval 365 day <= f.first_delivered
        and m.posting_month > f.first_delivered
group by m.posting_month, f.business_code, f.currency
having count(*) >= {{ var('size_bracket_min_invoices') }}
