{#- The newest value of `column` is at most `max_age_days` before the window's last day
    (or today, for a plain `dbt build`): predictions and scores must be current. -#}
{% test recent(model, column, max_age_days) %}
{%- set reference = window_end() if window_bound('END') else 'current_date' -%}
select max({{ column }}) as newest
from {{ model }}
having max({{ column }}) is null
    or cast(max({{ column }}) as date) < {{ dbt.dateadd('day', -1 * max_age_days, reference) }}
{% endtest %}
