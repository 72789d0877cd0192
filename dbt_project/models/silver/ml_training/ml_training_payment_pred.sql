{#- Training set of the payment-date model: one row per invoice whose payment has been
    delivered, its features as of its posting (ftr_invoice_at_posting, never a later
    payment) and the labels days_to_pay and days_late. Rows are keyed by the day the label
    became known, so a model trained as of day D uses rows with label_known_on <= D. Invoices
    cleared before their posting (the source has a few) carry no usable label and are left out. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('label_known_on') }}"
) }}

with closings as (  -- the first delivered clearing of each invoice
    select
        doc_id,
        payment_date,
        valid_from as label_known_on
    from {{ live_invoice_history() }}
    where not is_open
    qualify row_number() over (
        partition by doc_id
        order by state_version
    ) = 1
)

select
    f.*,
    c.payment_date,
    c.label_known_on,
    {{ date_key('c.label_known_on') }} as label_known_on_key,
    {{ dbt.datediff('f.invoice_date', 'c.payment_date', 'day') }} as days_to_pay,
    {{ dbt.datediff('f.due_date', 'c.payment_date', 'day') }} as days_late
from {{ ref('ftr_invoice_at_posting') }} as f
inner join closings as c on f.doc_id = c.doc_id
where
    {{ in_partition_window('c.label_known_on') }}
    and c.payment_date >= f.invoice_date
