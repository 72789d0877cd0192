{#- Orders and their shipments: one row per (order, parcel), and one row with no parcel for an
    order never shipped. The order's status compares units shipped with units ordered:
    matched, partial (fewer shipped so far), unmatched (nothing shipped), amount_mismatch
    (more shipped than ordered). -#}
{{ config(materialized='table') }}

with orders as (
    select
        order_id,
        min(order_date) as order_date,
        sum(quantity) as units_ordered
    from {{ ref('fact_orders') }}
    group by order_id
),

pairs as (
    select
        coalesce(o.order_id, s.order_id) as order_id,
        s.shipment_id,
        o.order_date,
        o.units_ordered,
        s.units as units_shipped,
        s.status as shipment_status,
        s.shipped_date,
        s.delivered_date,
        o.order_id is not null as order_known
    from orders as o
    full outer join {{ ref('fact_shipments') }} as s on o.order_id = s.order_id
),

per_order as (
    select
        *,
        coalesce(sum(units_shipped) over (partition by order_id), 0) as order_units_shipped,
        row_number() over (
            partition by order_id
            order by shipped_date nulls last, shipment_id
        ) as order_row
    from pairs
)

select
    {{ surrogate_key(['order_id', 'shipment_id']) }} as link_key,
    order_id,
    shipment_id,
    order_date,
    shipped_date,
    delivered_date,
    shipment_status,
    units_ordered,
    units_shipped,
    order_units_shipped,
    order_row,
    case
        when not order_known or order_units_shipped = 0 then 'unmatched'
        when order_units_shipped = units_ordered then 'matched'
        when order_units_shipped < units_ordered then 'partial'
        else 'amount_mismatch'
    end as match_status
from per_order
