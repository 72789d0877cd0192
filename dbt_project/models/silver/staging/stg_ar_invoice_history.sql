{#- SCD2 history of every invoice's state: a new row each time a delivery changes it
    (posted open, cleared, corrected), valid from the delivery day until the next change.
    Window re-runs replace the window's deliveries and keep what came before and after. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='doc_id') }}

{% set state_columns = [
    'invoice_id', 'business_code', 'customer_number', 'customer_name', 'invoice_date', 'document_date',
    'baseline_date', 'due_date', 'payment_date', 'is_open', 'currency', 'amount', 'payment_terms',
    'document_type', 'business_year'
] %}

with deliveries as (
    select doc_id, {{ state_columns | join(', ') }}, delivered_on as valid_from, _source_file, _source_line
    from {{ ref('stg_ar_invoice_deliveries') }}
),

states as (
    select * from deliveries
    {% if is_incremental() %}
    union all
    select doc_id, {{ state_columns | join(', ') }}, valid_from, _source_file, _source_line
    from {{ this }}
    where doc_id in (select doc_id from deliveries)
      and not {{ in_partition_window('valid_from') }}
    {% endif %}
),

ordered as (
    select
        *,
        {{ surrogate_key(state_columns) }} as state_hash,
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
    v._source_file,
    v._source_line
from versions as v
left join fx_by_day as fx on v.currency = fx.currency and v.invoice_date = fx.invoice_date
