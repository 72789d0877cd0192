{#- Rules shared by the operational (SME) models: one definition each. -#}

{#- One row per key: the newest delivered state. In an incremental run only the keys the
    window's deliveries touched (or an earlier delivery of a window day did) are rebuilt, from
    everything ever delivered for them, so a re-run, a late delivery or a corrected one gives
    the same answer as a full build. The model's pre-hook `delete_undelivered` removes keys
    no delivery carries any more. -#}
{% macro latest_delivered(table, key, newest_first, touched_key=none) -%}
    {%- set touched = touched_key or key -%}
    select *
    from {{ source('bronze', table) }}
    {% if is_incremental() %}
    where {{ redelivered_keys('trim(' ~ touched ~ ')', source('bronze', table), 'partition_date', touched) }}
    {% endif %}
    qualify row_number() over (partition by {{ key }} order by {{ newest_first }}) = 1
{%- endmacro %}

{#- Payment states as the sources spell them, in three standard values (else 'unknown'). -#}
{% macro payment_status(raw) -%}
    case
        when lower(trim({{ raw }})) in ('paid', 'success', 'completed') then 'paid'
        when lower(trim({{ raw }})) in ('failed', 'declined', 'cancelled') then 'failed'
        when lower(trim({{ raw }})) in ('pending', 'processing') then 'pending'
        else 'unknown'
    end
{%- endmacro %}

{#- A spelling as the map seeds list it. -#}
{% macro map_key(raw) -%}
    lower(trim({{ raw }}))
{%- endmacro %}

{#- Join the FX rate of `currency_expr` in force on `date_expr` (newest monthly rate on or
    before it) as alias `fx`. -#}
{% macro fx_asof_join(currency_expr, date_expr) -%}
    asof left join {{ ref('fx_rates') }} as fx
        on fx.currency = {{ currency_expr }}
        and fx.reporting_currency = '{{ var("reporting_currency") }}'
        and {{ date_expr }} >= fx.rate_date
{%- endmacro %}
