{#- Daily AR KPIs per ledger (company code) and currency: the figures of kpi_ar_dso_analysis in
    the ledger's own currency (the same macro), with the open and overdue amounts also in the
    reporting currency and the open amount by aging bucket. Summed over ledgers, the reporting
    amounts are the consolidated ones. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

with kpis as (
    {{ ar_daily_kpis(['business_code', 'currency'], 'amount') }}
),

open_items as (
    select
        as_of_date,
        business_code,
        currency,
        {{ exact_sum('amount_reporting') }} as open_amount_reporting,
        coalesce({{ exact_sum('case when days_overdue > 0 then amount_reporting end') }}, 0) as overdue_amount_reporting,
        coalesce({{ exact_sum("case when aging_bucket = '0-30' then amount end") }}, 0) as amount_0_30,
        coalesce({{ exact_sum("case when aging_bucket = '31-60' then amount end") }}, 0) as amount_31_60,
        coalesce({{ exact_sum("case when aging_bucket = '61-90' then amount end") }}, 0) as amount_61_90,
        coalesce({{ exact_sum("case when aging_bucket = '90+' then amount end") }}, 0) as amount_90_plus
    from {{ ref('ftr_invoice_risk') }}
    where {{ in_partition_window('as_of_date') }} and status = 'open'
    group by as_of_date, business_code, currency
)

select
    k.*,
    coalesce(o.open_amount_reporting, 0) as open_amount_reporting,
    coalesce(o.overdue_amount_reporting, 0) as overdue_amount_reporting,
    coalesce(o.amount_0_30, 0) as amount_0_30,
    coalesce(o.amount_31_60, 0) as amount_31_60,
    coalesce(o.amount_61_90, 0) as amount_61_90,
    coalesce(o.amount_90_plus, 0) as amount_90_plus
from kpis as k
left join open_items as o
    on k.as_of_date = o.as_of_date and k.business_code = o.business_code and k.currency = o.currency
