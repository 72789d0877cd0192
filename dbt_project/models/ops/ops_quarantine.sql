{#- Every row a bronze contract rejected, from every source, with the rule and the reason:
    the place an operator looks first when counts do not add up. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('partition_date') }}"
) }}

select
    partition_date,
    source,
    _source_file as source_file,
    _source_line as source_line,
    rule,
    reason,
    raw_record,
    _ingested_at as ingested_at
from {{ source('bronze', 'kaggle_invoices_quarantine') }}
where {{ in_partition_window('partition_date') }}
