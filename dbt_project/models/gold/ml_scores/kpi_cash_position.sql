{#- The SME's bank balance 26 weeks ahead of each day, week by week: cash in (customer payments
    forecast to reach the bank, other credits), cash out (open supplier bills on the payables
    habit, bills not received yet, recurring debits), the balance with its 80 % band and the
    weeks whose low end is below the floor. A view: ml.cash_position holds 26 rows a day. -#}
{{ config(materialized='view') }}

select
    p.as_of_date,
    {{ date_key('p.as_of_date') }} as as_of_date_key,
    p.ledger,
    p.currency,
    p.week,
    p.week_start,
    p.week_end,
    p.customer_cash_in,
    p.other_cash_in,
    p.supplier_bills_open,
    p.supplier_bills_not_received,
    p.recurring_debits,
    p.net_flow,
    p.opening_balance,
    p.balance,
    p.balance_low_80,
    p.balance_high_80,
    p.band_errors,
    p.floor,
    p.below_floor,
    p.cash_in_model_version,
    p.predicted_at as prediction_timestamp
from {{ source('ml', 'cash_position') }} as p
