{#- Row rule: every row satisfies `expression` (a SQL boolean; null counts as broken).
    Failing rows are returned, so the check reports how many broke it. -#}
{% test expect_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
