{#- Totals reconcile: the sum of `expression` over the model equals the sum of
    `compare_expression` over `compare_model` (within `tolerance`). Links must neither lose
    nor double what the facts hold. -#}
{% test sums_equal(model, expression, compare_model, compare_expression, tolerance=0.5) %}
with model_total as (
    select coalesce(sum({{ expression }}), 0) as total from {{ model }}
),
compare_total as (
    select coalesce(sum({{ compare_expression }}), 0) as total from {{ compare_model }}
)
select m.total as model_total, c.total as compare_total
from model_total as m
cross join compare_total as c
where abs(m.total - c.total) > {{ tolerance }}
{% endtest %}
