{#- One row per AR invoice in its latest state, keyed to the calendar and to the customer
    version in force on the posting day. -#}
-- depends_on: {{ ref('stg_ar_invoice_deliveries') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='doc_id',
    pre_hook="{{ delete_withdrawn('doc_id') }}"
) }}

with invoices as (
    select * from {{ ref('stg_ar_invoices') }}
    {% if is_incremental() %}
    where doc_id in (select doc_id from {{ ref('stg_ar_invoice_deliveries') }})
        or {{ changed_in_window(ref('stg_ar_invoice_history')) }}
    {% endif %}
)

select
    {{ surrogate_key(['i.doc_id']) }} as invoice_key,
    i.doc_id,
    i.invoice_id,
    c.customer_key,
    i.customer_number,
    i.business_code,
    {{ date_key('i.invoice_date') }} as invoice_date_key,
    {{ date_key('i.due_date') }} as due_date_key,
    case when i.payment_date is not null then {{ date_key('i.payment_date') }} end as payment_date_key,
    i.invoice_date,
    i.due_date,
    i.payment_date,
    i.currency,
    i.amount,
    i.fx_rate_to_reporting,
    i.amount_reporting,
    i.payment_terms,
    case when i.is_open then 'open' else 'paid' end as status,
    case
        when not i.is_open then {{ dbt.datediff('i.invoice_date', 'i.payment_date', 'day') }} end
        as days_to_pay,
    case
        when not i.is_open then {{ dbt.datediff('i.due_date', 'i.payment_date', 'day') }} end
        as days_late,
    {{ invoice_size_bracket('i.amount', 'i.amount_reporting', 'i.business_code') }} as invoice_size_bracket,
    {% for extra in ar_extra_names() %}i.{{ extra }},
    {% endfor -%}
    i.state_valid_from as last_changed_on
from invoices as i
{{ join_size_thresholds('i') }}
left join {{ ref('dim_ar_customer') }} as c
    on
        i.customer_number = c.customer_number
        and {{ in_force_on('c', 'i.invoice_date') }}
