{#- Daily AR KPIs of all ledgers together. DSO is the open AR at the end of the day divided by
    the average daily amount invoiced over the trailing `dso_window_days` days (fewer at the
    start of history, so the first weeks are not inflated). Amounts in the reporting currency.
    Per ledger: kpi_ar_ledger_daily, from the same macro. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('as_of_date') }}"
) }}

{{ ar_daily_kpis() }}
