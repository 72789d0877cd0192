{#- Each customer's payment record (ftr_ar_customer_payment) at its last row before the window,
    for a short window to continue from: that day, invoices known and paid, total days late and
    open amount. Days late are whole days, so the rounded product of the stored average and the
    invoices paid is their total exactly; the open amount is a sum of amounts in cents, so its
    rounded value is the running sum itself. `customers`: a query of the customers wanted. -#}
{% macro record_before_window(payment_record, customers) -%}
    select
        customer_number,
        max(as_of_date) as as_of_date,
        arg_max(invoices_known_to_date, as_of_date) as invoices_known,
        arg_max(invoices_paid_to_date, as_of_date) as invoices_paid,
        arg_max(coalesce(cast(round(avg_days_late * invoices_paid_to_date) as bigint), 0), as_of_date) as days_late,
        arg_max(open_amount, as_of_date) as open_amount
    from {{ payment_record }}
    where as_of_date < {{ window_start() }} and customer_number in ({{ customers }})
    group by customer_number
{%- endmacro %}

{#- The states a short window continues a customer's record from: every state of the invoices
    the window changed (an earlier state decides what a change adds, e.g. whether a clearing is
    the invoice's first). -#}
{% macro changed_in_window(history) -%}
    doc_id in (select doc_id from {{ history }} where {{ in_partition_window('valid_from') }})
{%- endmacro %}
