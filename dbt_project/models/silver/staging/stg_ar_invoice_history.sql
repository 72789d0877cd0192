{#- SCD2 history of every invoice's state: a new row each time a delivery changes it
    (posted open, cleared, corrected), valid from the delivery day until the next change.
    Window re-runs replace the window's deliveries and keep what came before and after.
    A day's delivery is the full state of that day (sources/*.yaml, `delivery: replace`): a
    state an earlier delivery of a window day carried and its re-delivery does not is
    withdrawn. It stays here as a retracted row (in force on no day, with the reason), the
    versions around it close up as if it never came, and an invoice left with no state
    leaves every table built from this one. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='doc_id'
) }}

{#- A table built before withdrawals were recorded has no is_retracted column: nothing withdrawn. -#}
{#- One built before the ledger extras (is_disputed, ...) has none: its states had none. -#}
{% set marks_withdrawals = true %}
{% set absent_extras = [] %}
{% if execute and is_incremental() %}
    {% set held_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
    {% set marks_withdrawals = 'is_retracted' in held_columns %}
    {% for extra in ar_extras() if extra.name not in held_columns %}{% do absent_extras.append(extra) %}{% endfor %}
{% endif %}

{% set contract_columns = [
    'invoice_id', 'business_code', 'customer_number', 'customer_name', 'invoice_date', 'document_date',
    'baseline_date', 'due_date', 'payment_date', 'is_open', 'currency', 'amount', 'payment_terms',
    'document_type', 'business_year'
] %}
{% set state_columns = contract_columns + ar_extra_names() %}

with deliveries as (
    select
        doc_id,
        {{ state_columns | join(', ') }},
        delivered_on as valid_from,
        {{ invoice_state_hash(contract_columns) }} as state_hash,
        _source_file,
        _source_line
    from {{ ref('stg_ar_invoice_deliveries') }}
),

{% if is_incremental() %}
held as (  -- what this table holds of the invoices the window delivers, or delivered before
    select
        *
        {% if not marks_withdrawals %}, false as is_retracted, cast(null as varchar) as retraction_reason{% endif %}
        {% for extra in absent_extras %}, cast(null as {{ extra.type }}) as {{ extra.name }}{% endfor %}
    from {{ this }}
    where doc_id in (
        select doc_id from deliveries
        union
        select doc_id from {{ this }} where {{ in_partition_window('valid_from') }}
    )
),

withdrawn as (  -- states of window days their re-delivery no longer carries (kept, marked)
    select * exclude (is_retracted, retraction_reason)
    from held as h
    where {{ in_partition_window('h.valid_from') }}
        and not exists (
            select 1 from deliveries as d
            where d.doc_id = h.doc_id and d.valid_from = h.valid_from and d.state_hash = h.state_hash
        )
    -- a state withdrawn before and not delivered again stays withdrawn; one delivered again is live
    qualify row_number() over (partition by doc_id, valid_from, state_hash order by is_retracted) = 1
    union all by name
    select * exclude (is_retracted, retraction_reason)
    from held
    where is_retracted and not {{ in_partition_window('valid_from') }}
),
{% endif %}

states as (
    select * from deliveries
    {% if is_incremental() %}
    union all
    select doc_id, {{ state_columns | join(', ') }}, valid_from, state_hash, _source_file, _source_line
    from held
    where not is_retracted and not {{ in_partition_window('valid_from') }}
    {% endif %}
),

ordered as (
    select
        *,
        -- within one day an opening comes before its clearing
        case when is_open then 0 else 1 end as state_order
    from states
),

changes as (
    select *
    from (
        select
            *,
            lag(state_hash) over (
                partition by doc_id
                order by valid_from, state_order, _source_file, _source_line
            ) as previous_hash
        from ordered
    ) as compared
    -- the same state delivered again (a re-sent file, a repeated row) is not a change
    where previous_hash is null or previous_hash <> state_hash
),

versions as (
    select
        *,
        lead(valid_from) over (
            partition by doc_id
            order by valid_from, state_order, _source_file, _source_line
        ) as valid_to,
        row_number() over (
            partition by doc_id
            order by valid_from, state_order, _source_file, _source_line
        ) as state_version
    from changes
),

fx_by_day as (
    -- the newest monthly rate on or before the posting date, looked up once per currency and
    -- posting day: an asof join over every version sorted all ~10M of them at 5M invoices
    select
        k.currency,
        k.invoice_date,
        fx.rate
    from (select distinct
        currency,
        invoice_date
    from versions) as k
    {{ fx_asof_join('k.currency', 'k.invoice_date') }}
)

select
    {{ surrogate_key(['v.doc_id', 'v.state_version']) }} as invoice_state_key,
    v.doc_id,
    {% for column in state_columns %}v.{{ column }},
    {% endfor -%}
    fx.rate as fx_rate_to_reporting,
    round(v.amount * fx.rate, 2) as amount_reporting,
    v.state_hash,
    v.state_version,
    v.valid_from,
    v.valid_to,
    v.valid_to is null as is_current,
    false as is_retracted,
    cast(null as varchar) as retraction_reason,
    v._source_file,
    v._source_line
from versions as v
left join fx_by_day as fx on v.currency = fx.currency and v.invoice_date = fx.invoice_date
{% if is_incremental() %}
union all by name
select
    {{ surrogate_key(['doc_id', "'withdrawn'", 'valid_from', 'state_hash']) }} as invoice_state_key,
    * exclude (invoice_state_key, valid_to, is_current),
    valid_from as valid_to,  -- in force on no day
    false as is_current,
    true as is_retracted,
    'withdrawn: the delivery of ' || strftime(valid_from, '%Y-%m-%d')
    || ' no longer carries this state (a later delivery replaced that day''s)' as retraction_reason
from withdrawn
{% endif %}
