{#- The version of an SCD2 row (valid_from inclusive, valid_to exclusive, null while current) in
    force on `day`. A withdrawn version (valid_to = valid_from) is in force on no day. -#}
{% macro in_force_on(version, day) -%}
    {{ day }} >= {{ version }}.valid_from and ({{ version }}.valid_to is null or {{ day }} < {{ version }}.valid_to)
{%- endmacro %}
