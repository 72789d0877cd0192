{#- The partition window's delivered invoice rows, cleaned and typed the SME Pulse way, with
    the SME's own sales on account when the deployment counts them (stg_sales_ledger_deliveries).
    Ephemeral: a shared first step of the AR staging models, not a table. -#}
{{ config(materialized='ephemeral') }}

with delivered as (
    -- the extras typed first: days delivered without them (or a lake written before they existed)
    -- read as null
    select {{ ar_extras_as_null() }}
    where false
    union all by name
    select *
    from {{ source('bronze', 'kaggle_invoices_raw') }}
    where {{ in_partition_window('partition_date') }}
),

cleaned as (
    select
        doc_id,
        invoice_id,
        trim(business_code) as business_code,
        -- Customer numbers are strings (CCU001); the file sometimes loses the
        -- leading zero of numeric ones (200769623 for 0200769623): restore it.
        case
            when regexp_full_match(trim(cust_number), '[0-9]{1,9}') then lpad(trim(cust_number), 10, '0')
            else trim(cust_number)
        end as customer_number,
        trim(regexp_replace(name_customer, '\s+', ' ', 'g')) as customer_name,
        posting_date as invoice_date,
        document_create_date as document_date,
        baseline_create_date as baseline_date,
        due_in_date as due_date,
        cast(clear_date as date) as payment_date,
        is_open,
        invoice_currency as currency,
        total_open_amount as amount,
        cust_payment_terms as payment_terms,
        document_type,
        business_year,
        disputed as is_disputed,
        paperless as is_paperless,
        nullif(trim(channel), '') as channel,
        nullif(trim(sales_rep), '') as sales_rep,
        partition_date as delivered_on,
        _source_file,
        _source_line
    from delivered
),

ledgers as (
    select * from cleaned
    union all by name
    select * from {{ ref('stg_sales_ledger_deliveries') }}
)

-- The same row delivered twice in one delivery (the file has exact duplicates) counts once.
select *
from ledgers
qualify row_number() over (
    partition by
        delivered_on, doc_id, invoice_id, business_code, customer_number, customer_name,
        invoice_date, document_date, baseline_date, due_date, payment_date, is_open, currency,
        amount, payment_terms, document_type, business_year, {{ ar_extra_names() | join(', ') }}
    order by _source_file, _source_line
) = 1
