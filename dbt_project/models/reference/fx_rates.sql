{#- The FX rates in force: the shipped seed, a deployment's own file over it, and the reporting
    currency into itself from the calendar's first day (a ledger older than the seed's rates
    converts in its own currency without a row per month). A row of the deployment's file replaces
    the shipped row of the same day and currencies. smepulse_assets/quality/reference_data.py reads
    the same files by the same rule for bronze's currency_has_fx_rate. Rows of one day and pair of
    currencies repeated within one file all stay (rank, not row_number): the uniqueness test names them. -#}
{{ config(materialized='table') }}

{%- set supplied_file = env_var('SMEPULSE_FX_RATES_FILE', '') %}
{%- set fx_columns = "{'rate_date': 'date', 'currency': 'varchar', 'reporting_currency': 'varchar', 'rate': 'double'}" %}
{%- if supplied_file %}
    {%- set supplied_rows = "read_csv('" ~ supplied_file ~ "', header = true, columns = " ~ fx_columns ~ ")" %}
{%- else %}
    {%- set supplied_rows = "(select * from " ~ ref('fx_rates_shipped') ~ " where false)" %}
{%- endif %}

with candidates as (
    -- a rate of the deployment's file first, then the shipped seed's, then the identity
    select
        rate_date,
        currency,
        reporting_currency,
        rate,
        1 as priority
    from {{ supplied_rows }}
    union all
    select
        rate_date,
        currency,
        reporting_currency,
        rate,
        2 as priority
    from {{ ref('fx_rates_shipped') }}
    union all
    select
        cast('{{ var("calendar_start") }}' as date) as rate_date,
        '{{ var("reporting_currency") }}' as currency,
        '{{ var("reporting_currency") }}' as reporting_currency,
        1.0 as rate,
        3 as priority
)

select
    rate_date,
    currency,
    reporting_currency,
    rate
from candidates
qualify rank() over (
    partition by rate_date, currency, reporting_currency
    order by priority
) = 1
