{#- UC05, AR management: the day's open invoices worth a call, highest amount at risk first:
    likely to be paid more than 30 days late (probability >= var worklist_min_probability) or
    already past due by more than 90 days; with the predicted payment date and its confidence,
    and when the invoice is still expected (tomorrow at the earliest, once the predicted date has
    passed: the model predicts at posting, so a past-due invoice can be later than predicted). -#}
{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_partition_window('score_date') }}") }}

with ranked as (
    -- priority_rank ranks every open invoice of the day, listed or not, as score_ar_priority does;
    -- ranked here on the key alone, because the sort carries what it is given: ranking the
    -- view's whole rows took most of this model's time (~30M rows a serving chunk at 5M invoices)
    select
        s.score_date,
        s.doc_id,
        rank() over ({{ collection_priority_order('s') }}) as priority_rank,
        s.probability_over_30_late >= {{ var('worklist_min_probability') }} or s.days_past_due > 90 as is_listed
    from {{ source('ml', 'ar_priority_scores') }} as s
    where {{ in_partition_window('s.score_date') }}
),

listed as (
    select
        score_date,
        doc_id,
        priority_rank,
        row_number() over (
            partition by score_date
            order by priority_rank
        ) as call_order  -- the worklist's own order
    from ranked
    where is_listed
)

select
    l.score_date,
    p.score_date_key,
    l.call_order,
    l.priority_rank,
    l.doc_id,
    p.invoice_id,
    p.customer_number,
    c.customer_name,
    p.open_amount,
    p.days_past_due,
    greatest(p.days_past_due, 0) as days_overdue,
    p.probability_over_30_late,
    p.priority_score,
    s.predicted_payment_date,
    {{ still_expected('s.predicted_payment_date', 'l.score_date') }} as expected_payment_date,
    s.predicted_payment_date <= l.score_date as later_than_predicted,
    s.interval_lower_date,
    s.interval_upper_date,
    s.prediction_confidence,
    r.is_disputed,  -- a disputed invoice wants a different call (the ledger's extra, where it has one)
    p.model_version as priority_model_version,
    s.model_version as payment_model_version
from listed as l
-- the view's other columns; its own rank is not read, so DuckDB drops that window
inner join {{ ref('score_ar_priority') }} as p
    on l.score_date = p.score_date and l.doc_id = p.doc_id and {{ in_partition_window('p.score_date') }}
left join {{ ref('score_payment_pred') }} as s
    on l.score_date = s.score_date and l.doc_id = s.doc_id and {{ in_partition_window('s.score_date') }}
left join {{ ref('ftr_invoice_risk') }} as r
    on l.score_date = r.as_of_date and l.doc_id = r.doc_id and {{ in_partition_window('r.as_of_date') }}
left join {{ ref('dim_ar_customer') }} as c on p.customer_number = c.customer_number and c.is_current
