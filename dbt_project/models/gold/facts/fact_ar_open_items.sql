{#- The open items of the receivables ledger at the end of each day: one row per invoice open
    that day, with its days past due and aging bucket as of that day. The rows behind
    kpi_ar_aging (they sum to its buckets), for aging by customer and open-invoice lists. A view:
    ftr_invoice_risk holds the rows already. -#}
{{ config(materialized='view') }}

select
    r.as_of_date,
    r.as_of_date_key,
    r.doc_id,
    r.invoice_id,
    r.customer_number,
    c.customer_name,
    r.invoice_date,
    r.due_date,
    r.currency,
    r.amount,
    r.amount_reporting as open_amount,
    r.days_past_due,
    r.days_overdue,
    r.aging_bucket,
    r.invoice_size_bracket
from {{ ref('ftr_invoice_risk') }} as r
left join {{ ref('dim_ar_customer') }} as c
    on
        r.customer_number = c.customer_number
        and {{ in_force_on('c', 'r.as_of_date') }}
where r.status = 'open'
