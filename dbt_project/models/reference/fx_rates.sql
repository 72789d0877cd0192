{#- The FX rates in force: the shipped seed, a deployment's own file over it, and the reporting
    currency into itself from the calendar's first day (a ledger older than the seed's rates
    converts in its own currency without a row per month). A row of the deployment's file replaces
    the shipped row of the same day and currencies. smepulse_assets/quality/reference_data.py reads
    the same files by the same rule for bronze's currency_has_fx_rate. -#}
{{ config(materialized='table') }}

{%- set supplied_file = env_var('SMEPULSE_FX_RATES_FILE', '') %}
{%- set fx_columns = "{'rate_date': 'date', 'currency': 'varchar', 'reporting_currency': 'varchar', 'rate': 'double'}" %}
{%- if supplied_file %}
    {%- set supplied_rows = "read_csv('" ~ supplied_file ~ "', header = true, columns = " ~ fx_columns ~ ")" %}
{%- else %}
    {%- set supplied_rows = "(select * from " ~ ref('fx_rates_shipped') ~ " where false)" %}
{%- endif %}

with supplied as (
    select
        rate_date,
        currency,
        reporting_currency,
        rate
    from {{ supplied_rows }}
),

shipped as (
    select
        s.rate_date,
        s.currency,
        s.reporting_currency,
        s.rate
    from {{ ref('fx_rates_shipped') }} as s
    where not exists (
        select 1 from supplied as u
        where
            u.rate_date = s.rate_date
            and u.currency = s.currency
            and u.reporting_currency = s.reporting_currency
    )
),

identity as (
    select
        cast('{{ var("calendar_start") }}' as date) as rate_date,
        '{{ var("reporting_currency") }}' as currency,
        '{{ var("reporting_currency") }}' as reporting_currency,
        1.0 as rate
),

given as (
    select * from supplied
    union all
    select * from shipped
)

select * from given
union all
select * from identity
where not exists (
    select 1 from given as g
    where
        g.currency = identity.currency
        and g.reporting_currency = identity.reporting_currency
        and g.rate_date = identity.rate_date
)
