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
        valid_from as first_delivered,
        -- ranked by amount within the ledger, then cut into buckets of 1,024 ranks (below)
        row_number() over (partition by business_code, currency order by amount) as amount_rank
    from {{ live_invoice_history() }}
    where
        state_version = 1
        and valid_from >= (select min(posting_month) - interval 365 day from months)
        and valid_from < (select max(posting_month) from months)
),

{#- The exact median and 90th percentile of each month's year, without holding that year in
    memory: quantile_cont over the month x invoice join keeps every amount of every month at once
    (40M at 5M invoices over a range's 18 months; it filled DuckDB's cap beside another model).
    Instead each month counts its invoices per amount bucket, which locates the bucket holding
    each rank quantile_cont interpolates between, and only those buckets' amounts are ranked. -#}
in_window as (  -- each month with the invoices of its year
    select
        m.posting_month,
        f.business_code,
        f.currency,
        f.amount,
        f.amount_rank,
        f.amount_rank // 1024 as bucket
    from months as m
    inner join first_amounts as f
        on
            m.posting_month - interval 365 day <= f.first_delivered
            and m.posting_month > f.first_delivered
),

buckets as (  -- per month and ledger, each bucket's invoices and the invoices in buckets below it
    select
        posting_month,
        business_code,
        currency,
        bucket,
        in_bucket,
        sum(in_bucket) over ledger_month - in_bucket as below_bucket,
        sum(in_bucket) over (partition by posting_month, business_code, currency) as invoices_used
    from (
        select posting_month, business_code, currency, bucket, count(*) as in_bucket
        from in_window
        group by posting_month, business_code, currency, bucket
    )
    window ledger_month as (partition by posting_month, business_code, currency order by bucket)
),

wanted as (  -- the ranks (0-based, ascending amount) each quantile interpolates between, located
    select
        b.posting_month,
        b.business_code,
        b.currency,
        b.bucket,
        b.invoices_used,
        q.quantile,
        r.position - b.below_bucket as rank_in_bucket
    from buckets as b
    cross join (values (0.5::double), (0.9::double)) as q (quantile)  -- doubles, as quantile_cont
    cross join lateral (
        select unnest([
            floor(q.quantile * (b.invoices_used - 1)), ceil(q.quantile * (b.invoices_used - 1))
        ]) as position
    ) as r
    where
        b.invoices_used >= {{ var('size_bracket_min_invoices') }}
        and r.position >= b.below_bucket
        and r.position < b.below_bucket + b.in_bucket
),

ranked as (  -- the amounts of the wanted buckets, ranked within their bucket
    select
        posting_month,
        business_code,
        currency,
        bucket,
        amount,
        row_number() over (
            partition by posting_month, business_code, currency, bucket order by amount_rank
        ) - 1 as rank_in_bucket
    from in_window
    semi join wanted using (posting_month, business_code, currency, bucket)
),

quantiles as (  -- as quantile_cont: the lower amount and the fraction of the step to the upper
    select
        w.posting_month,
        w.business_code,
        w.currency,
        w.quantile,
        any_value(w.invoices_used) as invoices_used,
        round(min(r.amount) + (
            w.quantile * (any_value(w.invoices_used) - 1)
            - floor(w.quantile * (any_value(w.invoices_used) - 1))
        ) * (max(r.amount) - min(r.amount)), 2) as amount  -- to the cent, as the amounts
    from wanted as w
    inner join ranked as r using (posting_month, business_code, currency, bucket, rank_in_bucket)
    group by w.posting_month, w.business_code, w.currency, w.quantile
)

select
    posting_month,
    business_code,
    currency,
    any_value(invoices_used) as invoices_used,
    any_value(amount) filter (quantile = 0.5) as small_below,
    any_value(amount) filter (quantile = 0.9) as medium_below
from quantiles
group by posting_month, business_code, currency
