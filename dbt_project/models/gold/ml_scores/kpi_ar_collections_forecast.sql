{#- The 13-week AR collections forecast: as of each day, the collections expected in each week
    from the open invoices and from the invoices still to come. A view: ml.ar_collections_forecast
    holds 13 rows a day. -#}
{{ config(materialized='view') }}

select
    c.as_of_date,
    {{ date_key('c.as_of_date') }} as as_of_date_key,
    '{{ var("reporting_currency") }}' as currency,
    c.week,
    c.week_start,
    c.week_end,
    c.from_open_invoices,
    c.from_new_invoices,
    c.predicted_collections,
    c.open_amount,
    c.reference_days,
    c.predicted_at as prediction_timestamp
from {{ source('ml', 'ar_collections_forecast') }} as c
