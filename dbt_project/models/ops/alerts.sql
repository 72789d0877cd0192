{#- One row per alert: one open problem of one thing (a check of an asset, a job's runs), however
    many partitions and runs it was seen on. When it fired, how often and on which partitions it
    was seen, whether and when it recovered. A view over the alert log the alerting component
    appends to, so it is current without a rebuild. -#}
{{ config(materialized='view') }}

with events as (
    select * from {{ source('ops', 'alert_events') }}
),

opened as (
    select * from events
    where event = 'firing'
),

later as (
    select
        alert_id,
        count(*) filter (where event in ('firing', 'repeat')) as occurrences,
        string_agg(
            distinct coalesce(partition, 'all'), ', '
            order by coalesce(partition, 'all')
        )
        filter (where event in ('firing', 'repeat')) as partitions_seen,
        max(event_at) filter (where event in ('firing', 'repeat')) as last_seen_at,
        arg_max(message, event_at) filter (where event in ('firing', 'repeat')) as last_message,
        arg_max(observed, event_at) filter (where event in ('firing', 'repeat')) as last_observed,
        max(event_at) filter (where event = 'resolved') as resolved_at,
        max(run_id) filter (where event = 'resolved') as resolved_by_run_id
    from events
    group by alert_id
)

select
    o.alert_id,
    o.alert_key,
    o.kind,
    o.subject,
    o.check_name,
    o.partition as first_partition,
    l.partitions_seen,
    o.severity,
    o.observed,
    o.threshold,
    o.message,
    o.ui_url,
    o.run_id,
    o.delivered_to,
    o.delivery_error,
    o.event_at as fired_at,
    l.occurrences,
    l.last_seen_at,
    l.last_message,
    l.last_observed,
    l.resolved_at,
    l.resolved_by_run_id,
    case when l.resolved_at is null then 'open' else 'resolved' end as status
from opened as o
left join later as l on o.alert_id = l.alert_id
