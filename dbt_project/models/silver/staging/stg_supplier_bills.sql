{#- Supplier bills (accounts payable) in their latest state. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='bill_id',
    pre_hook="{{ delete_undelivered('bill_id', source('bronze', 'supplier_bills_raw'), 'trim(bill_id)') }}"
) }}

with latest as (
    {{ latest_delivered('supplier_bills_raw', 'bill_id', 'updated_on desc, partition_date desc, _source_line desc') }}
)

select
    trim(bill_id) as bill_id,
    trim(supplier_code) as supplier_code,
    supplier_name,
    bill_date,
    due_date,
    amount_vnd,
    lower(trim(status)) as status,
    paid_date,
    updated_on,
    partition_date as delivered_on
from latest
