{#- Reconciliation of payments with the bank statement. Payments that should appear on the
    statement (paid, by a method that credits the bank account) are matched to credit lines by
    the payment reference in the line's description: matched (same amount), amount_mismatch
    (both present, amounts differ: a fee deducted, a typo), unmatched (a payment with no line,
    or a credit line with no known payment; unmatched_side says which). match_date is the
    statement day, or the settlement day for a payment not on the statement. -#}
{{ config(materialized='table') }}

with expected as (
    select
        payment_id,
        settled_date,
        amount_vnd
    from {{ ref('fact_payments') }}
    where status = 'paid' and expects_bank_line
),

credits as (
    select
        bank_txn_id,
        txn_date,
        amount_vnd,
        payment_ref,
        deliveries
    from {{ ref('fact_bank_txn') }}
    where direction = 'credit'
),

joined as (
    select
        p.payment_id,
        b.bank_txn_id,
        p.amount_vnd as payment_amount_vnd,
        b.amount_vnd as bank_amount_vnd,
        p.settled_date,
        b.txn_date,
        b.deliveries
    from expected as p
    full outer join credits as b on p.payment_id = b.payment_ref
)

select
    {{ surrogate_key(['payment_id', 'bank_txn_id']) }} as link_key,
    payment_id,
    bank_txn_id,
    coalesce(txn_date, settled_date) as match_date,
    {{ date_key('coalesce(txn_date, settled_date)') }} as match_date_key,
    settled_date,
    txn_date,
    payment_amount_vnd,
    bank_amount_vnd,
    coalesce(bank_amount_vnd, 0) - coalesce(payment_amount_vnd, 0) as difference_vnd,
    coalesce(deliveries, 0) as bank_line_deliveries,
    case
        when payment_id is null or bank_txn_id is null then 'unmatched'
        when abs(bank_amount_vnd - payment_amount_vnd) < 1 then 'matched'
        else 'amount_mismatch'
    end as match_status,
    case when bank_txn_id is null then 'payment' when payment_id is null then 'bank' end as unmatched_side
from joined
