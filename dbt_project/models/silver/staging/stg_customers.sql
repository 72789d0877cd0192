{#- Customer accounts, one row per version (SCD Type 2 over the delivered changes): a new
    version starts on the updated_on of a delivery that changes an attribute; deliveries that
    repeat the current state add nothing. valid_to is exclusive, null while current. Accounts
    the window touched (or an earlier delivery of a window day did) are rebuilt from their whole
    delivered history. A version a re-delivery withdrew (the delivery of its day that carried it
    was replaced by one without it) stays as a retracted row with the reason, in force on no day;
    the versions around it close up as if it never came. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_code'
) }}

{% set attributes = ['customer_name', 'province_code', 'country_code', 'segment', 'credit_limit_vnd', 'payment_terms_days'] %}
{% set marks_withdrawals = execute and is_incremental() and built_with_column(this, 'is_retracted') %}

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
),

live as (
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
)

select
    *,
    false as is_retracted,
    cast(null as varchar) as retraction_reason
from live
{% if is_incremental() %}
union all by name
select
    * exclude (valid_to, is_current, version, is_retracted, retraction_reason),
    valid_from as valid_to,  -- in force on no day
    false as is_current,
    cast(null as bigint) as version,
    true as is_retracted,
    coalesce(
        retraction_reason,
        'withdrawn: the delivery of ' || strftime(delivered_on, '%Y-%m-%d')
        || ' that carried this version was replaced by one without it'
    ) as retraction_reason
from (
    select
        *
        {% if not marks_withdrawals %}, false as is_retracted, cast(null as varchar) as retraction_reason{% endif %}
    from {{ this }}
) as held
-- versions the model held from a window day (or withdrew before) that no delivery carries now
where {{ redelivered_keys('customer_code', source('bronze', 'customers_raw'), 'partition_date', 'customer_code') }}
    and (held.is_retracted or {{ in_partition_window('held.delivered_on') }})
    and not exists (
        select 1 from live as l
        where l.customer_code = held.customer_code and l.valid_from = held.valid_from
            {% for a in attributes %}and l.{{ a }} is not distinct from held.{{ a }} {% endfor %}
    )
{% endif %}
