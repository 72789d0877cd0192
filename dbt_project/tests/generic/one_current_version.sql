{#- SCD2 validity: every key has exactly one current version, and versions do not overlap.
    A version may last zero days (opened and closed by the same delivery); ordering ties on
    valid_from by valid_to, open-ended last, keeps the chain deterministic. -#}
{% test one_current_version(model, key, valid_from='valid_from', valid_to='valid_to', is_current='is_current') %}
with versions as (
    select
        {{ key }} as entity,
        {{ valid_from }} as valid_from,
        {{ valid_to }} as valid_to,
        {{ is_current }} as is_current,
        lead({{ valid_from }}) over (
            partition by {{ key }} order by {{ valid_from }}, {{ valid_to }} nulls last
        ) as next_from
    from {{ model }}
)
select entity, 'current versions <> 1' as problem
from versions group by entity having sum(case when is_current then 1 else 0 end) <> 1
union all
select entity, 'versions overlap or leave a gap'
from versions where next_from is not null and (valid_to is null or valid_to <> next_from)
{% endtest %}
