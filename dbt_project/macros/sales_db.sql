{#- A sales-database table's history from its extracted versions. Overlapping extraction
    windows and re-extractions find a version more than once: one row per key and updated_at,
    as last extracted. A version is in force from the business day of its stamp (valid_from) to
    the day of the next version (valid_to, exclusive; null while current): a version followed by
    another the same day is in force on no day, since a day reports its last state. A version
    with deleted_at set is a soft delete: the row is gone from that day. -#}
{% macro sales_db_history(source_table, keys) -%}
with versions as (
    select * exclude (partition_date, _extracted_at)
    from {{ source('sales_db', source_table) }}
    qualify row_number() over (partition by {{ keys }}, updated_at order by _extracted_at desc) = 1
)

select
    *,
    updated_on as valid_from,
    lead(updated_on) over (partition by {{ keys }} order by updated_at) as valid_to,
    deleted_at is not null as is_deleted
from versions
{%- endmacro %}

{#- The days a sales-database run rebuilds: its window and the day before it. The extraction of a
    day reaches back into the day before (its overlap), finding that day's late commits, so the
    day before's figures may change with it. -#}
{% macro in_sales_db_window(column) -%}
    ({{ column }} between {{ window_start() }} - 1 and {{ window_end() }})
{%- endmacro %}
