{#- Bank reconciliation per statement day, from link_payment_bank: credit lines and amounts,
    how many matched a payment exactly, matched with a different amount (and the total
    difference), or matched nothing; payments expected on the statement that day with no
    line; repeated deliveries of lines that were dropped; and the match rate (matched lines /
    credit lines). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('statement_date') }}"
) }}

with days as (
    {{ model_days("(select min(match_date) from " ~ ref('link_payment_bank') ~ ")", "select max(match_date) from " ~ ref('link_payment_bank')) }}
),

daily as (
    select
        match_date,
        count(bank_txn_id) as bank_credit_lines,
        coalesce(sum(bank_amount_vnd), 0) as bank_credit_amount_vnd,
        count(*) filter (where match_status = 'matched') as matched_lines,
        coalesce(sum(bank_amount_vnd) filter (where match_status = 'matched'), 0) as matched_amount_vnd,
        count(*) filter (where match_status = 'amount_mismatch') as amount_mismatch_lines,
        coalesce(sum(difference_vnd) filter (where match_status = 'amount_mismatch'), 0)
            as amount_mismatch_difference_vnd,
        count(*) filter (where unmatched_side = 'bank') as unmatched_bank_lines,
        coalesce(sum(bank_amount_vnd) filter (where unmatched_side = 'bank'), 0) as unmatched_bank_amount_vnd,
        count(payment_id) as payments_expected,
        count(*) filter (where unmatched_side = 'payment') as payments_without_bank_line,
        coalesce(sum(payment_amount_vnd) filter (where unmatched_side = 'payment'), 0) as amount_without_bank_line_vnd,
        coalesce(sum(bank_line_deliveries - 1) filter (where bank_txn_id is not null), 0) as repeated_deliveries_dropped
    from {{ ref('link_payment_bank') }}
    where match_date between {{ window_start() }} and {{ window_end() }}
    group by match_date
)

select
    d.as_of_date as statement_date,
    {{ date_key('d.as_of_date') }} as statement_date_key,
    coalesce(t.bank_credit_lines, 0) as bank_credit_lines,
    coalesce(t.bank_credit_amount_vnd, 0) as bank_credit_amount_vnd,
    coalesce(t.matched_lines, 0) as matched_lines,
    coalesce(t.matched_amount_vnd, 0) as matched_amount_vnd,
    coalesce(t.amount_mismatch_lines, 0) as amount_mismatch_lines,
    coalesce(t.amount_mismatch_difference_vnd, 0) as amount_mismatch_difference_vnd,
    coalesce(t.unmatched_bank_lines, 0) as unmatched_bank_lines,
    coalesce(t.unmatched_bank_amount_vnd, 0) as unmatched_bank_amount_vnd,
    coalesce(t.payments_expected, 0) as payments_expected,
    coalesce(t.payments_without_bank_line, 0) as payments_without_bank_line,
    coalesce(t.amount_without_bank_line_vnd, 0) as amount_without_bank_line_vnd,
    coalesce(t.repeated_deliveries_dropped, 0) as repeated_deliveries_dropped,
    round(t.matched_lines * 1.0 / nullif(t.bank_credit_lines, 0), 4) as match_rate
from days as d
left join daily as t on d.as_of_date = t.match_date
