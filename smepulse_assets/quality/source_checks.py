"""Asset checks of a bronze source, judged on the partitions a run wrote.

Every check reads what is stored in the lake (not what the run meant to
write), day by day for the run's window, and looks back at earlier partitions
where the rule needs a reference (business-code mix, 7-day null rate). A check
fails when any day of the window breaks it; its metadata names those days, the
observed value and the threshold.

Severity comes from the rules file: reject rules are blocking ERROR checks, so
the run stops before silver; flag rules are WARN checks and the run goes on.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd

from smepulse_assets.quality.row_rules import broken_condition
from smepulse_assets.quality.rules import SEVERITIES, CheckRule, RowRule, SourceRules
from smepulse_lib.windows import DayWindow

CONSERVATION = "row_conservation"
PASS_RATE = "pass_rate"
FILES_ACCOUNTED = "files_accounted_for"
DUPLICATE_KEYS = "duplicate_keys"
# the quarantine rules of parse.py's duplicate-key settlement
CONFLICTING, SUPERSEDED = "conflicting_duplicate_key", "superseded_duplicate_key"


@dataclass
class Verdict:
    """A check's judgement over the window: the worst day decides."""

    passed: bool
    observed: float | int | str | None
    threshold: str
    description: str
    failing_days: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    severity: str | None = None  # a verdict's own severity, over the check's (a check that could not judge warns)


@dataclass(frozen=True)
class SourceCheck:
    name: str
    severity: str  # reject | flag
    description: str
    judge: Callable[[duckdb.DuckDBPyConnection, DayWindow], Verdict]


# --- the checks every source has ------------------------------------------


def conservation_check() -> SourceCheck:
    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        per_day = con.execute(
            """
            with stored as (
                select partition_date, true as loaded, _source_file, _source_line from delivered
                union all
                select partition_date, false, _source_file, _source_line from quarantined
            ),
            per_day as (
                select partition_date,
                       count(*) filter (where loaded) as loaded,
                       count(*) filter (where not loaded) as quarantined,
                       count(distinct (_source_file, _source_line)) as distinct_lines
                from stored
                where partition_date between $first and $last
                group by 1
            )
            select r.partition_date, r.rows_read,
                   coalesce(p.loaded, 0) as loaded,
                   coalesce(p.quarantined, 0) as quarantined,
                   coalesce(p.distinct_lines, 0) as distinct_lines
            from load_records as r
            left join per_day as p using (partition_date)
            where r.partition_date between $first and $last
            order by 1
            """,
            {"first": window.first, "last": window.last},
        ).df()
        lost = per_day["rows_read"] - per_day["loaded"] - per_day["quarantined"]
        repeated = per_day["loaded"] + per_day["quarantined"] - per_day["distinct_lines"]
        bad = per_day[(lost != 0) | (repeated != 0)]
        missing = sorted(
            {f"{d}" for d in window.days} - {f"{d.date()}" for d in pd.to_datetime(per_day["partition_date"])}
        )
        return Verdict(
            passed=bad.empty and not missing,
            observed=int(lost.abs().sum() + repeated.sum()),
            threshold="rows read = rows loaded + rows quarantined, each source line once",
            description="Every delivered row is loaded or quarantined, exactly once.",
            failing_days=[f"{d.date()}" for d in pd.to_datetime(bad["partition_date"])] + missing,
            metadata={
                "rows_read": int(per_day["rows_read"].sum()),
                "rows_loaded": int(per_day["loaded"].sum()),
                "rows_quarantined": int(per_day["quarantined"].sum()),
                "days_without_load_record": missing,
            },
        )

    return SourceCheck(CONSERVATION, "reject", "Rows read = rows loaded + rows quarantined, no row twice.", judge)


def pass_rate_check(min_rate: float, min_rows: int) -> SourceCheck:
    """Days with fewer than ``min_rows`` rows are judged only when nothing of them loaded."""

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        per_day = con.execute(
            """
            select partition_date, rows_read, rows_loaded,
                   rows_loaded / nullif(rows_read, 0) as pass_rate
            from load_records where partition_date between ? and ? order by 1
            """,
            [window.first, window.last],
        ).df()
        judged = per_day.dropna(subset=["pass_rate"])
        judged = judged[(judged["rows_read"] >= min_rows) | (judged["rows_loaded"] == 0)]
        bad = judged[judged["pass_rate"] < min_rate]
        by_rule = con.execute(
            "select rule, count(*) as n, min(reason) as example from quarantined where partition_date between ? and ? "
            "group by 1 order by 2 desc, 1",
            [window.first, window.last],
        ).fetchall()
        worst = float(judged["pass_rate"].min()) if len(judged) else None
        # the refusal explained where it is read: the commonest rule, with an example reason
        why = f"; {by_rule[0][1]} row(s) quarantined by {by_rule[0][0]}, e.g. {by_rule[0][2]}" if by_rule else ""
        return Verdict(
            passed=bad.empty,
            observed=worst,
            threshold=f">= {min_rate:.0%}",
            description=(
                f"pass rate {worst:.0%} < {min_rate:.0%}{why}"
                if not bad.empty
                else "share of delivered rows loaded per day"
            ),
            failing_days=[f"{d.date()}" for d in pd.to_datetime(bad["partition_date"])],
            metadata={
                "rejected_by_rule": {rule: int(n) for rule, n, _ in by_rule},
                "days_judged": len(judged),
                "min_rows_per_day": min_rows,
            },
        )

    return SourceCheck(
        PASS_RATE,
        "reject",
        f"Share of delivered rows loaded each day is at least {min_rate:.0%} (days of {min_rows}+ rows; "
        "a day where nothing loaded always fails).",
        judge,
    )


def flag_rule_check(rule: RowRule) -> SourceCheck:
    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        broken = con.execute(
            f"""
            select partition_date, _source_file, _source_line
            from delivered
            where partition_date between ? and ? and {broken_condition(rule)}
            order by 1, 2, 3
            """,
            [window.first, window.last],
        ).df()
        sample = [
            f"{file}:{line}"
            for file, line in zip(broken["_source_file"].head(5), broken["_source_line"].head(5), strict=False)
        ]
        return Verdict(
            passed=broken.empty,
            observed=len(broken),
            threshold="0 rows",
            description=f"{len(broken)} loaded row(s): {rule.reason}"
            if len(broken)
            else f"no row breaks: {rule.expect}",
            failing_days=sorted({f"{d.date()}" for d in pd.to_datetime(broken["partition_date"])}),
            metadata={"expect": rule.expect, "sample_rows": sample},
        )

    return SourceCheck(rule.name, rule.severity, f"Flag rule: {rule.expect} ({rule.reason}).", judge)


def files_accounted_check() -> SourceCheck:
    """Files under a day's folder that the source did not load (a sub-folder, another extension, a
    hidden file, a link out of the landing zone): each named with the rule that skipped it."""

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        skipped = con.execute(
            "select partition_date, file, rule from skipped_files where partition_date between ? and ? order by 1, 2",
            [window.first, window.last],
        ).fetchall()
        sample = [f"{file} ({rule})" for _, file, rule in skipped[:10]]
        return Verdict(
            passed=not skipped,
            observed=len(skipped),
            threshold="0 files skipped",
            description=f"{len(skipped)} file(s) under the day folders not loaded: {', '.join(sample)}"
            if skipped
            else "every file under the day folders was loaded",
            failing_days=sorted({f"{day}" for day, _, _ in skipped}),
            metadata={"skipped_files": [{"day": f"{d}", "file": f, "rule": r} for d, f, r in skipped]},
        )

    return SourceCheck(
        FILES_ACCOUNTED,
        "flag",
        "Every file under a day's folder is loaded; one the source's pattern skips (a sub-folder, another "
        "extension, a hidden file, a link out of the landing zone) fails this check, named with its rule.",
        judge,
    )


def duplicate_keys_check() -> SourceCheck:
    """Rows of one delivery that shared the source's delivery key with different content: all
    quarantined (a conflict), or all but the last line (the source's tie-break)."""

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        counted = con.execute(
            "select partition_date, rule, count(*) from quarantined where partition_date between ? and ? "
            "and rule in (?, ?) group by all",
            [window.first, window.last, CONFLICTING, SUPERSEDED],
        ).fetchall()
        by_rule = {rule: sum(n for _, r, n in counted if r == rule) for rule in {r for _, r, _ in counted}}
        total = sum(by_rule.values())
        return Verdict(
            passed=total == 0,
            observed=total,
            threshold="0 rows",
            description=(
                f"{by_rule.get(CONFLICTING, 0)} row(s) quarantined as conflicting copies of one key, "
                f"{by_rule.get(SUPERSEDED, 0)} replaced by a later line of their delivery"
                if total
                else "no key delivered twice with different content"
            ),
            failing_days=sorted({f"{day}" for day, _, _ in counted}),
            metadata={"by_rule": by_rule},
        )

    return SourceCheck(
        DUPLICATE_KEYS,
        "flag",
        "No key of a delivery comes twice with different content (see quarantine rules "
        f"{CONFLICTING} and {SUPERSEDED}).",
        judge,
    )


# --- the dataset checks of the rules file ---------------------------------


def _daily(con: duckdb.DuckDBPyConnection, select: str, first: date, last: date) -> pd.DataFrame:
    """A per-day aggregate over delivered rows, days without rows included (as nulls)."""
    return con.execute(
        f"""
        select d.partition_date, a.* exclude (partition_date)
        from load_records as d
        left join (select partition_date, {select} from delivered
                   where partition_date between ? and ? group by 1) as a using (partition_date)
        where d.partition_date between ? and ?
        order by 1
        """,
        [first, last, first, last],
    ).df()


def _days(frame: pd.DataFrame) -> list[str]:
    return [f"{d.date()}" for d in pd.to_datetime(frame["partition_date"])]


def not_null(rule: CheckRule) -> Callable:
    columns = list(rule.params["columns"])

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        present = {row[0] for row in con.execute("select column_name from (describe delivered)").fetchall()}
        absent = [c for c in columns if c not in present]
        if absent:
            return Verdict(
                False, f"missing {absent}", "columns exist", f"key columns missing: {absent}", _days_of(window)
            )
        nulls = ", ".join(f"count(*) filter (where {c} is null) as {c}" for c in columns)
        per_day = _daily(con, nulls, window.first, window.last).fillna(0)
        totals = {c: int(per_day[c].sum()) for c in columns}
        bad = per_day[per_day[columns].sum(axis=1) > 0]
        return Verdict(
            passed=bad.empty,
            observed=sum(totals.values()),
            threshold="0 nulls",
            description=f"nulls in key columns: { {c: n for c, n in totals.items() if n} }"
            if not bad.empty
            else "key columns present and filled",
            failing_days=_days(bad),
            metadata={"nulls_by_column": totals},
        )

    return judge


def _days_of(window: DayWindow) -> list[str]:
    return [f"{d}" for d in window.days]


def mean_between(rule: CheckRule) -> Callable:
    column, low, high = rule.params["column"], float(rule.params["min"]), float(rule.params["max"])
    min_rows = int(rule.params.get("min_rows", 1))

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        per_day = _daily(con, f"avg({column}) as mean, count({column}) as n", window.first, window.last)
        judged = per_day[per_day["n"].fillna(0) >= min_rows]
        bad = judged[(judged["mean"] < low) | (judged["mean"] > high)]
        distance = (judged["mean"] - (low + high) / 2).abs()
        worst = float(judged.loc[distance.idxmax(), "mean"]) if len(judged) else None
        return Verdict(
            passed=bad.empty,
            observed=worst,
            threshold=f"{low:,.0f} <= mean({column}) <= {high:,.0f}",
            description=f"daily mean of {column} outside the band on {len(bad)} day(s)"
            if len(bad)
            else f"daily mean of {column} within the band",
            failing_days=_days(bad),
            metadata={"days_judged": len(judged), "days_with_too_few_rows": len(per_day) - len(judged)},
        )

    return judge


def mean_near_usual(rule: CheckRule) -> Callable:
    """The day's mean of ``column`` within ``max_ratio`` times (or a ratio-th of) its usual, the
    median of the daily means over the ``reference_days`` before: the band follows the ledger's
    own amounts, so a business invoicing hundreds and one invoicing millions are judged alike.
    Days whose reference has fewer than ``min_rows`` values (a ledger's first weeks) are not judged."""
    column, ratio = rule.params["column"], float(rule.params["max_ratio"])
    reference_days, min_rows = int(rule.params["reference_days"]), int(rule.params.get("min_rows", 1))

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        per_day = con.execute(
            f"""
            with days as (select unnest(range($1::date, $2::date + 1, interval 1 day))::date as day),
            daily as (  -- the window's days and the reference days before them, not all history
                select partition_date as day, avg({column}) as mean, count({column}) as n
                from delivered where partition_date between $1::date - $3::integer and $2 group by 1
            ),
            usual as (  -- the median day: one bad day among the reference days does not move it
                select d.day, median(r.mean) as usual
                from days as d
                join daily as r on r.day between d.day - $3::integer and d.day - 1
                group by d.day
                having sum(r.n) >= $4
            )
            select t.day, t.mean, u.usual, greatest(t.mean / u.usual, u.usual / t.mean) as ratio
            from daily as t join usual as u using (day)
            where t.n >= $4 and t.mean > 0 and u.usual > 0
            order by 1
            """,
            [window.first, window.last, reference_days, min_rows],
        ).df()
        bad = per_day[per_day["ratio"] > ratio]
        worst = per_day.loc[per_day["ratio"].idxmax()] if len(per_day) else pd.Series({"mean": None, "usual": None})
        return Verdict(
            passed=bad.empty,
            observed=None if worst["mean"] is None else float(worst["mean"]),
            threshold=f"mean({column}) within {ratio:g} x its median daily mean over the {reference_days} days before",
            description=(
                f"daily mean of {column} {worst['mean']:,.2f} against a usual {worst['usual']:,.2f} "
                f"on {len(bad)} day(s)"
                if len(bad)
                else f"daily mean of {column} near its usual"
            ),
            failing_days=[f"{d.date()}" for d in pd.to_datetime(bad["day"])],
            metadata={"days_judged": len(per_day), "reference_days": reference_days},
        )

    return judge


def kl_divergence(rule: CheckRule) -> Callable:
    column, limit = rule.params["column"], float(rule.params["max_divergence"])
    reference_days, min_rows = int(rule.params["reference_days"]), int(rule.params.get("min_rows", 1))

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        start = window.first - timedelta(days=reference_days)
        counts = con.execute(
            f"""
            select partition_date, coalesce({column}, '(null)') as category, count(*) as n
            from delivered where partition_date between ? and ? group by 1, 2
            """,
            [start, window.last],
        ).df()
        table = counts.pivot_table(index="partition_date", columns="category", values="n", aggfunc="sum", fill_value=0)
        table.index = pd.to_datetime(table.index).date
        table = table.reindex([start + timedelta(days=i) for i in range((window.last - start).days + 1)], fill_value=0)
        # the mix of the reference_days before each day (the day itself excluded)
        reference = table.rolling(reference_days, min_periods=1).sum().shift(1)
        rows = []
        for day in window.days:
            today, ref = table.loc[day], reference.loc[day]
            if today.sum() < min_rows or ref.sum() < min_rows:
                continue
            rows.append((f"{day}", _kl(today.to_numpy(float), ref.to_numpy(float))))
        judged = pd.DataFrame(rows, columns=["day", "kl"])
        bad = judged[judged["kl"] > limit]
        worst = float(judged["kl"].max()) if len(judged) else None
        return Verdict(
            passed=bad.empty,
            observed=None if worst is None else round(worst, 4),
            threshold=f"KL <= {limit}",
            description=(
                f"{column} mix diverges from the previous {reference_days} days (KL {worst:.3f} > {limit})"
                if len(bad)
                else f"{column} mix in line with the previous {reference_days} days"
            ),
            failing_days=list(bad["day"]),
            metadata={"days_judged": len(judged), "reference_days": reference_days},
        )

    return judge


def beyond_usual(rule: CheckRule) -> Callable:
    """Rows whose ``column`` exceeds ``max_multiple`` times its ``quantile`` (default the 99th
    percentile) over the ``reference_days`` before the row's day, the ledger's usual: an amount
    in cents, a misplaced decimal. Invoice amounts are heavy-tailed (the largest is hundreds of
    times the median), so the usual is a high quantile, not the median."""
    column, multiple = rule.params["column"], float(rule.params["max_multiple"])
    reference_days, min_rows = int(rule.params["reference_days"]), int(rule.params.get("min_rows", 1))
    quantile = float(rule.params.get("quantile", 0.99))

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        unusual = con.execute(
            f"""
            with days as (select unnest(range(?::date, ?::date + 1, interval 1 day))::date as day),
            usual as (
                select d.day, quantile_cont(r.{column}, {quantile}) as usual
                from days as d
                join delivered as r on r.partition_date between d.day - ? and d.day - 1
                group by d.day
                having count(r.{column}) >= ?
            )
            select r.partition_date, r._source_file, r._source_line, r.{column} as value, u.usual
            from delivered as r
            join usual as u on u.day = r.partition_date
            where r.partition_date between ? and ? and r.{column} > ? * u.usual and u.usual > 0
            order by 1, 2, 3
            """,
            [window.first, window.last, reference_days, min_rows, window.first, window.last, multiple],
        ).df()
        sample = [
            f"{file}:{line} ({value:,.2f} against a usual {usual:,.2f})"
            for file, line, value, usual in unusual[["_source_file", "_source_line", "value", "usual"]]
            .head(5)
            .itertuples(index=False)
        ]
        return Verdict(
            passed=unusual.empty,
            observed=len(unusual),
            threshold=f"{column} <= {multiple:g} x its {quantile:.0%} quantile over the {reference_days} days before",
            description=f"{len(unusual)} row(s) with {column} beyond {multiple:g} x the usual: {', '.join(sample)}"
            if len(unusual)
            else f"{column} within {multiple:g} x the usual",
            failing_days=sorted({f"{d.date()}" for d in pd.to_datetime(unusual["partition_date"])}),
            metadata={"sample_rows": sample, "reference_days": reference_days},
        )

    return judge


def _kl(observed: np.ndarray, reference: np.ndarray, epsilon: float = 1e-4) -> float:
    """KL(p || q) in nats; q is smoothed so a category absent from the reference scores high, not infinite."""
    p = observed / observed.sum()
    q = (reference + epsilon * reference.sum()) / (reference.sum() * (1 + epsilon * len(reference)))
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / q[present])))


def null_rate(rule: CheckRule) -> Callable:
    column, limit, trailing = rule.params["column"], float(rule.params["max_rate"]), int(rule.params["trailing_days"])
    min_rows = int(rule.params.get("min_rows", 1))

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        start = window.first - timedelta(days=trailing - 1)
        per_day = _daily(con, f"count(*) as n, count(*) filter (where {column} is null) as nulls", start, window.last)
        per_day = per_day.fillna(0).set_index(pd.to_datetime(per_day["partition_date"]).dt.date)
        rolled = per_day[["n", "nulls"]].rolling(trailing, min_periods=1).sum()
        rolled = rolled.loc[[d for d in window.days if d in rolled.index]]
        rolled["rate"] = rolled["nulls"] / rolled["n"].where(rolled["n"] >= max(min_rows, 1))
        bad = rolled[rolled["rate"] > limit]
        worst = float(rolled["rate"].max()) if rolled["rate"].notna().any() else None
        return Verdict(
            passed=bad.empty,
            observed=worst,
            threshold=f"null rate of {column} over {trailing} days <= {limit:.0%}",
            description=(
                f"{column} null rate {worst:.1%} > {limit:.0%} over {trailing} days"
                if len(bad)
                else f"{column} null rate within {limit:.0%} over {trailing} days"
            ),
            failing_days=[f"{d}" for d in bad.index],
            metadata={"days_with_too_few_rows": int(rolled["rate"].isna().sum())},
        )

    return judge


def recency(rule: CheckRule) -> Callable:
    column, max_age = rule.params["column"], int(rule.params["max_age_days"])

    def judge(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict:
        # newest value per partition, then per day the newest over the max_age days up to it
        start = window.first - timedelta(days=max_age)
        per_day = _daily(con, f"date_diff('day', date '1970-01-01', max({column})) as newest", start, window.last)
        newest = pd.Series(
            per_day["newest"].astype("float64").to_numpy(), index=pd.to_datetime(per_day["partition_date"])
        )
        rolling = newest.reindex(pd.date_range(start, window.last, freq="D")).rolling(max_age + 1, min_periods=1).max()
        frame = pd.DataFrame({"day": [f"{d}" for d in window.days]})
        frame["age"] = [(d - date(1970, 1, 1)).days - rolling.loc[pd.Timestamp(d)] for d in window.days]
        bad = frame[frame["age"].isna() | (frame["age"] > max_age)]
        worst = None if frame["age"].isna().any() else int(frame["age"].max())
        return Verdict(
            passed=bad.empty,
            observed=worst if worst is not None else f"no {column} within {max_age} days",
            threshold=f"newest {column} at most {max_age} days before the partition day",
            description=f"stale data on {len(bad)} day(s)" if len(bad) else "deliveries carry recent data",
            failing_days=list(bad["day"]),
        )

    return judge


DATASET_CHECKS = {
    "not_null": not_null,
    "mean_between": mean_between,
    "mean_near_usual": mean_near_usual,
    "kl_divergence": kl_divergence,
    "null_rate": null_rate,
    "recency": recency,
    "beyond_usual": beyond_usual,
}


def source_checks(rules: SourceRules) -> list[SourceCheck]:
    """Every check of a source, in the order the UI lists them."""
    checks = [
        conservation_check(),
        pass_rate_check(rules.min_pass_rate, rules.pass_rate_min_rows),
        files_accounted_check(),
        duplicate_keys_check(),
    ]
    checks += [flag_rule_check(r) for r in rules.flag_row_rules]
    checks += [SourceCheck(c.name, c.severity, _describe(c), DATASET_CHECKS[c.kind](c)) for c in rules.checks]
    return checks


def _describe(rule: CheckRule) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in rule.params.items())
    return f"{rule.kind} ({settings}); {rule.severity} on failure."


def _not_judged(con: duckdb.DuckDBPyConnection, window: DayWindow) -> Verdict | None:
    """A check of the loaded rows judges nothing when rows were delivered and none loaded (all
    quarantined): it reports that as a warning, not as passed on zero rows (pass_rate says why).
    A source that has never delivered a row is not configured in this deployment (a ledger
    without the SME world's orders): its checks say so and pass, rather than alerting every day."""
    ever, read, loaded = _row(
        con,
        "select coalesce(sum(rows_read), 0), "
        "coalesce(sum(rows_read) filter (where partition_date between $1 and $2), 0), "
        "coalesce(sum(rows_loaded) filter (where partition_date between $1 and $2), 0) from load_records",
        [window.first, window.last],
    )
    if not ever:
        return Verdict(
            passed=True,
            observed=0,
            threshold="rows delivered > 0",
            description="not configured: this source has never delivered a row to this deployment",
            metadata={"configured": False},
        )
    if not read or loaded:
        return None
    return Verdict(
        passed=False,
        observed=0,
        threshold="rows loaded > 0",
        description=f"not judged: none of the {read} delivered row(s) loaded (pass_rate names the rule)",
        failing_days=_days_of(window),
        metadata={"rows_read": int(read), "rows_loaded": 0},
        severity="flag",
    )


def _row(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> tuple:
    row = con.execute(sql, params).fetchone()
    assert row is not None, "an aggregate returns a row"
    return row


def check_specs(rules: SourceRules) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(c.name, asset=rules.asset, description=c.description, blocking=c.severity == "reject")
        for c in source_checks(rules)
    ]


def to_result(rules: SourceRules, check: SourceCheck, verdict: Verdict, window: DayWindow) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=rules.asset,
        check_name=check.name,
        passed=verdict.passed,
        severity=SEVERITIES[verdict.severity or check.severity],
        description=verdict.description,
        metadata={
            "observed": _metadata_value(verdict.observed),
            "threshold": verdict.threshold,
            "partitions": window.label(),
            "failing_partitions": dg.MetadataValue.json(verdict.failing_days),
            **{k: _metadata_value(v) for k, v in verdict.metadata.items()},
        },
    )


def _metadata_value(value):
    if value is None:
        return dg.MetadataValue.text("n/a")
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(json.loads(json.dumps(value, default=str)))
    return value


def evaluate(con: duckdb.DuckDBPyConnection, rules: SourceRules, window: DayWindow) -> list[dg.AssetCheckResult]:
    """Every check's result; the checks of loaded rows (flag rules, the YAML's dataset checks)
    say they could not judge when nothing loaded."""
    unjudged = _not_judged(con, window)
    of_rows = {r.name for r in rules.flag_row_rules} | {c.name for c in rules.checks}
    return [
        to_result(rules, c, unjudged if unjudged and c.name in of_rows else c.judge(con, window), window)
        for c in source_checks(rules)
    ]
