{#- Daily AR KPIs per ledger (company code) and currency: the figures of kpi_ar_dso_analysis in
    the ledger's own currency (the same macro), with the open and overdue amounts also in the
    reporting currency and the open amount by aging bucket, summed in the same pass. Summed over
    ledgers, the reporting amounts are the consolidated ones. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

{{ ar_daily_kpis(['business_code', 'currency'], 'amount', also={
    'open_amount_reporting': "case when status = 'open' then amount_reporting else 0 end",
    'overdue_amount_reporting': "case when status = 'open' and days_overdue > 0 then amount_reporting else 0 end",
    'amount_0_30': "case when aging_bucket = '0-30' then amount else 0 end",
    'amount_31_60': "case when aging_bucket = '31-60' then amount else 0 end",
    'amount_61_90': "case when aging_bucket = '61-90' then amount else 0 end",
    'amount_90_plus': "case when aging_bucket = '90+' then amount else 0 end",
}) }}
