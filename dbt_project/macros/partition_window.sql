{#- The business days Dagster asked for, inclusive: SMEPULSE_WINDOW_START / SMEPULSE_WINDOW_END.
    Without them (a plain `dbt build`) the window is all history.
    They are environment variables read only while executing, not `--vars`: dbt discards its
    partial-parse state whenever `--vars` change (`dbt parse`: 5.6 s in full, 2.7 s partial). -#}
{% macro window_bound(name) -%}
    {{ return(env_var('SMEPULSE_WINDOW_' ~ name, '') if execute else '') }}
{%- endmacro %}
{% macro window_start() -%}
    cast('{{ window_bound("START") or "1900-01-01" }}' as date)
{%- endmacro %}
{% macro first_window_month() -%}
    cast(date_trunc('month', {{ window_start() }}) as date)
{%- endmacro %}
{% macro window_end() -%}
    cast('{{ window_bound("END") or "2999-12-31" }}' as date)
{%- endmacro %}

{% macro in_partition_window(column) -%}
    ({{ column }} between {{ window_start() }} and {{ window_end() }})
{%- endmacro %}

{#- The last day a daily snapshot covers: the window's end when Dagster gives one (a day
    with an empty delivery still gets its snapshot), else the newest day with data. -#}
{% macro snapshot_last_day(data_max_day) -%}
    {%- if window_bound("END") -%} {{ window_end() }} {%- else -%} {{ data_max_day }} {%- endif -%}
{%- endmacro %}

{#- Day-keyed tables are replaced window by window: this pre-hook deletes the window's days,
    the model appends them again, so a re-run replaces and never duplicates (even when a day
    now has fewer rows than before). -#}
{% macro delete_partition_window(column) -%}
    {{ delete_from_built_model(in_partition_window(column)) }}
{%- endmacro %}

{#- A pre-hook's delete from the model's own table: nothing to delete before its first build,
    nor on a full refresh, which rebuilds it whole. -#}
{% macro delete_from_built_model(condition) -%}
    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {%- if existing is not none and not flags.FULL_REFRESH -%}
        delete from {{ this }} where {{ condition }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- The calendar days a day-keyed model writes: the partition window, clipped to where the data
    starts; without a window (plain dbt build) every day from the first to the last with data. -#}
{% macro model_days(first_data_day, last_data_day) -%}
    select d.date_day as as_of_date
    from {{ ref('dim_date') }} as d
    where d.date_day between greatest({{ window_start() }}, ({{ first_data_day }}))
        and {{ snapshot_last_day('(' ~ last_data_day ~ ')') }}
{%- endmacro %}

{#- True when Dagster gave a window of at most `max_days` days (a new day, a short catch-up):
    models may then take a path that is cheap for a few days but would grow with the square
    of a long window (a backfill), which takes the other path. -#}
{% macro is_short_window(max_days=31) -%}
    {%- set start, end = window_bound('START'), window_bound('END') -%}
    {%- if not (start and end) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set days = (modules.datetime.date.fromisoformat(end) - modules.datetime.date.fromisoformat(start)).days + 1 -%}
    {{ return(days <= max_days) }}
{%- endmacro %}

{#- A window re-run after later ones (a backfill of older days) can score an invoice earlier
    than the row a later window holds for it: that row goes, so each invoice keeps one row. -#}
{% macro delete_later_first_predictions() -%}
    {{ delete_from_built_model(
        "predicted_on > " ~ window_end() ~ " and doc_id in (select doc_id from " ~ ref('score_payment_pred')
        ~ " where " ~ in_partition_window('score_date') ~ ")"
    ) }}
{%- endmacro %}

{#- The months a monthly model (ftr_ledger_*_thresholds) computes this run: the months of
    `date_column` in `relation` it has no rows for, and every month from the window's first on,
    through the newest: a re-delivery of a window day may change what later months read, and a
    past day re-run must leave the later months' rows in place for the models that recompute
    whole histories from them (dim_ar_customer). Its pre-hook deletes those:
    delete_from_built_model(month_column ~ ' >= ' ~ first_window_month()). -#}
{% macro months_to_compute(month_column, date_column, relation) -%}
    select distinct cast(date_trunc('month', {{ date_column }}) as date) as {{ month_column }}
    from {{ relation }}
    {% if is_incremental() %}
        except
        select {{ month_column }} from {{ this }} where {{ month_column }} < {{ first_window_month() }}
    {% endif %}
{%- endmacro %}
