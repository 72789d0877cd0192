{#- Customer accounts, one row per version (SCD Type 2 over the delivered changes): a new
    version starts on the updated_on of a delivery that changes an attribute; deliveries that
    repeat the current state add nothing. valid_to is exclusive, null while current. Accounts
    the window touched (or an earlier delivery of a window day did: a re-delivery may withdraw a
    version) are rebuilt from their whole delivered history. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_code',
    pre_hook="{{ delete_undelivered('customer_code', source('bronze', 'customers_raw'), 'trim(customer_code)') }}"
) }}

with delivered as (
    select
        trim(customer_code) as customer_code,
        trim(customer_name) as customer_name,
        nullif(trim(province_code), '') as province_code,
        upper(trim(country_code)) as country_code,
        lower(trim(segment)) as segment,
        credit_limit_vnd,
        payment_terms_days,
        updated_on,
        partition_date,
        _source_line
    from {{ source('bronze', 'customers_raw') }}
    {% if is_incremental() %}
    where {{ redelivered_keys('trim(customer_code)', source('bronze', 'customers_raw'), 'partition_date', 'customer_code') }}
    {% endif %}
),

one_per_day as (  -- the last delivered state of each account per updated_on day
    select
        *,
        {{ surrogate_key(['customer_name', 'province_code', 'country_code', 'segment', 'credit_limit_vnd', 'payment_terms_days']) }} as state
    from delivered
    qualify row_number() over (
        partition by customer_code, updated_on
        order by partition_date desc, _source_line desc
    ) = 1
),

changes as (
    select
        *,
        lag(state) over (
            partition by customer_code
            order by updated_on
        ) as previous_state
    from one_per_day
),

versions as (
    select * from changes
    where previous_state is null or previous_state <> state
)

select
    customer_code,
    customer_name,
    province_code,
    country_code,
    segment,
    credit_limit_vnd,
    payment_terms_days,
    updated_on as valid_from,
    lead(updated_on) over by_customer as valid_to,
    lead(updated_on) over by_customer is null as is_current,
    row_number() over by_customer as version,
    partition_date as delivered_on
from versions
window by_customer as (
    partition by customer_code
    order by updated_on
)
