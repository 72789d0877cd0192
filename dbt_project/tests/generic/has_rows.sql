{#- The table (or, for a partitioned model, the run's window) is not empty. -#}
{% test has_rows(model) %}
select 'no rows' as problem
from (select count(*) as n from {{ model }}) as counted
where n = 0
{% endtest %}
