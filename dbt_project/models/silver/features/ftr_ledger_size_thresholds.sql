{#- What is a small, a medium or a large invoice depends on the business: for each ledger
    (company code and currency) and posting month, the median and the 90th percentile of the
    amounts (in the ledger's currency) of the invoices the ledger delivered in the 365 days
    before the month, each at its first delivered amount. Below the median is small, from the
    90th percentile large. Point in time: a month's thresholds read only deliveries made before
    it began, so once computed they never change, and a rerun, a short window and a backfill
    bracket an invoice alike. A ledger with fewer than var('size_bracket_min_invoices') such
    invoices has no row for the month: its invoices are bracketed by the fixed reporting-currency
    thresholds (vars invoice_size_small_below / invoice_size_medium_below).
    Exact, to the cent, without holding a year of amounts per month: quantile_cont over the
    month x invoice join keeps every amount of every month at once (40M at 5M invoices over a
    range's 18 months, which filled DuckDB's cap beside another model). Instead each month counts
    its invoices per bucket of 1,024 amount ranks, which locates the buckets holding the two ranks
    each quantile interpolates between, and only those buckets' amounts are ranked. -#}
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
        row_number() over (
            partition by business_code, currency
            order by amount
        ) // 1024 as bucket  -- amount ranks in the ledger, 1,024 a bucket
    from {{ live_invoice_history() }}
    where
        state_version = 1
        and valid_from >= (select min(posting_month) - interval 365 day from months)
        and valid_from < (select max(posting_month) from months)
),

in_window as (  -- each month with the invoices of its year
    select
        m.posting_month,
        f.business_code,
        f.currency,
        f.bucket,
        f.amount
    from months as m
    inner join first_amounts as f
        on
            m.posting_month - interval 365 day <= f.first_delivered
            and m.posting_month > f.first_delivered
),

bucket_counts as (
    select
        posting_month,
        business_code,
        currency,
        bucket,
        count(*) as in_bucket
    from in_window
    group by posting_month, business_code, currency, bucket
),

buckets as (  -- each bucket's first rank (0-based, ascending amount) in its month's year
    select
        posting_month,
        business_code,
        currency,
        bucket,
        in_bucket,
        sum(in_bucket) over (
            partition by posting_month, business_code, currency
            order by bucket
        ) - in_bucket as first_rank,
        sum(in_bucket) over (partition by posting_month, business_code, currency) as invoices_used
    from bucket_counts
),

ranks_wanted as (  -- the lower and upper rank (0-based) each quantile interpolates between
    select
        b.posting_month,
        b.business_code,
        b.currency,
        b.invoices_used,
        q.quantile,
        case
            when s.is_upper then ceil(q.quantile * (b.invoices_used - 1))
            else floor(q.quantile * (b.invoices_used - 1))
        end as rank_at
    from (
        select distinct
            posting_month,
            business_code,
            currency,
            invoices_used
        from buckets
    ) as b
    cross join (select unnest([0.5, 0.9]::double []) as quantile) as q  -- doubles, as quantile_cont
    cross join (select unnest([false, true]) as is_upper) as s
    where b.invoices_used >= {{ var('size_bracket_min_invoices') }}
),

wanted as (  -- those ranks, located in their buckets
    select
        r.posting_month,
        r.business_code,
        r.currency,
        b.bucket,
        r.invoices_used,
        r.quantile,
        r.rank_at - b.first_rank as rank_in_bucket
    from ranks_wanted as r
    inner join buckets as b
        on
            r.posting_month = b.posting_month
            and r.business_code = b.business_code
            and r.currency = b.currency
            and r.rank_at >= b.first_rank
            and r.rank_at < b.first_rank + b.in_bucket
),

ranked as (  -- the amounts of the wanted buckets, ranked within their bucket
    select
        i.posting_month,
        i.business_code,
        i.currency,
        i.bucket,
        i.amount,
        row_number() over (
            partition by i.posting_month, i.business_code, i.currency, i.bucket
            order by i.amount
        ) - 1 as rank_in_bucket
    from in_window as i
    where exists (
        select 1 from wanted as w
        where
            w.posting_month = i.posting_month
            and w.business_code = i.business_code
            and w.currency = i.currency
            and w.bucket = i.bucket
    )
),

quantiles as (  -- as quantile_cont: the lower amount and the fraction of the step to the upper
    select
        w.posting_month,
        w.business_code,
        w.currency,
        w.quantile,
        w.invoices_used,
        w.quantile * (w.invoices_used - 1) - floor(w.quantile * (w.invoices_used - 1)) as step,
        min(r.amount) as lower_amount,
        max(r.amount) as upper_amount
    from wanted as w
    inner join ranked as r
        on
            w.posting_month = r.posting_month
            and w.business_code = r.business_code
            and w.currency = r.currency
            and w.bucket = r.bucket
            and w.rank_in_bucket = r.rank_in_bucket
    group by w.posting_month, w.business_code, w.currency, w.quantile, w.invoices_used
)

select
    posting_month,
    business_code,
    currency,
    invoices_used,
    round(any_value(lower_amount + step * (upper_amount - lower_amount)) filter (
        where quantile = 0.5
    ), 2) as small_below,
    round(any_value(lower_amount + step * (upper_amount - lower_amount)) filter (
        where quantile = 0.9
    ), 2) as medium_below
from quantiles
group by posting_month, business_code, currency, invoices_used
