{#- Every row a bronze contract rejected, from every source, with the rule and the reason:
    the place an operator looks first when counts do not add up. Every bronze source
    table named *_quarantine is included, so a new source needs no change here. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('partition_date') }}"
) }}

{%- set quarantines = [] -%}
{%- for node in graph.sources.values() | sort(attribute='name') -%}
    {%- if node.source_name == 'bronze' and node.name.endswith('_quarantine') -%}
        {%- do quarantines.append(node.name) -%}
    {%- endif -%}
{%- endfor %}

{% for table in quarantines %}
    select
        partition_date,
        source,
        _source_file as source_file,
        _source_line as source_line,
        rule,
        reason,
        raw_record,
        _ingested_at as ingested_at
    from {{ source('bronze', table) }}
    where {{ in_partition_window('partition_date') }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
