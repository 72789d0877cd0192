{#- A sum of amounts in cents that is the same however the rows are ordered. DuckDB adds a
    double column in whatever order its threads finish (a table past one row group is summed in
    parallel), and float addition is not associative: the last digits of a total could differ
    between two runs of the same data. Summed as decimals the total is exact, then it is a
    double again like every amount column. `over`: a window clause, for a window sum. -#}
{% macro exact_sum(amount, over='') -%}
    cast(sum(cast(round({{ amount }}, 2) as decimal(38, 2))) {{ over }} as double)
{%- endmacro %}
