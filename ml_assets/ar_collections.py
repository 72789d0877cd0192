"""AR collections forecast: the cash the open invoices and the invoices still to come will bring in,
week by week for 13 weeks (the treasurer's 13-week cash view), as of each day.

A payment-date prediction says when one invoice is most likely paid; summing predicted dates into
weeks misplaces cash systematically (an invoice already past its predicted date is not paid
tomorrow, and early weeks hold more unpaid invoices than the median says). So the predictions are
used the way a collections desk uses an aging report, with rates learned from the ledger itself:

- as of day D the open invoices (``ml.payment_date_scores`` of D, the champion serving that day)
  are grouped by the week their predicted payment falls in: 0 for already past it, 1..13, 14 for
  later;
- the reference days D - 7k (k = 1..16, the same weekday) show, for each group, the share of its
  open amount that was paid in week w after the reference day; week w's share is taken from the
  four reference days whose week w had ended by D (k = w..w+3), so nothing after D is used;
- the invoices not posted yet: the reference days' collections in week w from invoices posted after
  them, averaged over the same four reference days;
- week w = sum over groups of (open amount x share) + the new invoices' collections; a group's
  shares over the 13 weeks are capped at the whole of it (each week's come from other reference
  days, so they need not add up to at most 1), the later weeks taking what is left.

A clearing counts as paid in its week if it had been delivered by the week's end (with daily feeds
it arrives on its day; a payment delivered later counts as unpaid, which understates, never leaks).
Without a reference day for a week (the first weeks of a history) the week is not forecast; a group
the reference days never held is paid in its predicted week. Amounts are in the reporting currency
(``amount_reporting``), the AR stream of ``ml.cashflow_forecast``, so both compare on one scale
(``benchmarks/ml.py``: weekly MAPE over the first 8 weeks against seasonal naive). Table
``ml.ar_collections_forecast``.
"""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from ml_assets import outputs
from ml_assets.training import ml_asset_args
from smepulse_lib.windows import DayWindow

WEEKS = 13
LATER = WEEKS + 1  # the group of invoices predicted to pay after the horizon
REFERENCES = 4  # reference days per week ahead
OLDEST_REFERENCE = WEEKS + REFERENCES - 1  # weeks back
TABLE, DAY_COLUMN = "ar_collections_forecast", "as_of_date"
JUDGED_WEEKS, JUDGED_DAYS = 8, 91  # the check judges weeks 1..8 of the forecasts of the last 13 weeks
MIN_JUDGED = 20  # forecasts whose 8 weeks have all ended, before the check judges
ACCURACY_CHECK = "beats_seasonal_naive"
ACCURACY_CHECK_DESCRIPTION = (
    "The forecasts of the last 13 weeks whose first 8 weeks have ended by the window's last day: their weekly "
    "MAPE against the collections delivered by then, no worse than seasonal naive's (each week repeats the "
    "week before the forecast day). WARN when worse: the forecast is then no better than last week's figure."
)
# ml.ar_collections_forecast as written, for a window with nothing to write
COLUMNS = """as_of_date date, week integer, week_start date, week_end date, from_open_invoices double,
    from_new_invoices double, predicted_collections double, open_amount double, reference_days integer,
    predicted_at timestamp"""

# the first clearing delivered for each invoice by the window's last day, and when it was delivered
CLEARINGS_SQL = """
    create or replace temp table collection_clearings as
    select doc_id, arg_min(payment_date, valid_from) as payment_date, min(valid_from) as cleared_on,
        arg_min(amount_reporting, valid_from) as amount
    from silver.stg_ar_invoice_history
    where not is_open and is_retracted is not true and valid_from <= ?
    group by doc_id
"""
# each scored day's open amount by predicted-payment group and by the week it was paid in (null:
# not paid within the horizon, or not delivered by that week's end)
OPEN_SQL = f"""
    with scored as (
        select s.score_date as ref_day, s.open_amount,
            least(greatest(cast(ceil(date_diff('day', s.score_date, s.predicted_payment_date) / 7) as integer), 0),
                {LATER}) as bucket,
            cast(ceil(date_diff('day', s.score_date, c.payment_date) / 7) as integer) as week, c.cleared_on
        from ml.payment_date_scores as s
        left join collection_clearings as c on c.doc_id = s.doc_id
        where s.score_date in (select day from collection_days)
    )
    select ref_day, bucket,
        case when week between 1 and {WEEKS} and cleared_on <= ref_day + 7 * week then week end as week,
        sum(open_amount) as amount
    from scored
    group by all
"""
# each scored day's collections in weeks 1..13 from invoices posted after it
NEW_SQL = f"""
    with paid as (
        select f.known_on, c.payment_date, c.cleared_on, sum(f.amount_reporting) as amount
        from silver.ftr_invoice_at_posting as f
        inner join collection_clearings as c on c.doc_id = f.doc_id
        where f.known_on > ? and f.known_on <= ?
        group by all
    ),
    by_week as (
        select r.ref_day, p.cleared_on, p.amount,
            cast(ceil(date_diff('day', r.ref_day, p.payment_date) / 7) as integer) as week
        from (
            select distinct score_date as ref_day from ml.payment_date_scores
            where score_date in (select day from collection_days)
        ) as r
        inner join paid as p
            on p.known_on > r.ref_day and p.payment_date > r.ref_day and p.payment_date <= r.ref_day + {7 * WEEKS}
    )
    select ref_day, week, sum(amount) as amount from by_week where cleared_on <= ref_day + 7 * week group by all
"""


# weekly MAPE of the forecasts judged as of a day (their weeks 1..8 all ended by it, made in its
# last 13 weeks) and of seasonal naive on the same weeks, from the collections delivered by that day
ACCURACY_SQL = f"""
    with daily as (
        select payment_date as cash_date, sum(amount) as cash_in from collection_clearings
        where cleared_on <= $day group by all
    ),
    judged as (
        select as_of_date from ml.{TABLE}
        where as_of_date > $day - {JUDGED_DAYS} and as_of_date + {7 * JUDGED_WEEKS} <= $day
        group by all having count(*) filter (where week <= {JUDGED_WEEKS}) = {JUDGED_WEEKS}
    ),
    weeks as (
        select f.as_of_date, f.week, f.predicted_collections as predicted,
            (select coalesce(sum(cash_in), 0) from daily where cash_date between f.week_start and f.week_end) as actual,
            (select coalesce(sum(cash_in), 0) from daily
             where cash_date between f.as_of_date - 6 and f.as_of_date) as last_week
        from ml.{TABLE} as f inner join judged using (as_of_date)
        where f.week <= {JUDGED_WEEKS}
    )
    select count(distinct as_of_date) as forecasts, count(*) as weeks,
        avg(abs(predicted - actual) / actual) as model_mape, avg(abs(last_week - actual) / actual) as naive_mape
    from weeks where actual > 0
"""


def stage_clearings(con, last: date) -> None:
    """Temp table ``collection_clearings``: each invoice's first clearing delivered by ``last``."""
    con.execute(CLEARINGS_SQL, [last])


class ReferenceDays:
    """What the reference days of a window show: open amounts by group and when they were paid, and
    the new invoices' collections by week."""

    def __init__(self, open_rows: pd.DataFrame, new_rows: pd.DataFrame):
        open_rows = open_rows.assign(ref_day=pd.to_datetime(open_rows["ref_day"]).dt.date)
        self.open = open_rows.groupby(["ref_day", "bucket"])["amount"].sum()
        paid = open_rows.dropna(subset=["week"]).astype({"week": int})
        self.paid = paid.groupby(["ref_day", "bucket", "week"])["amount"].sum()
        new_rows = new_rows.assign(ref_day=pd.to_datetime(new_rows["ref_day"]).dt.date)
        self.new = new_rows.groupby(["ref_day", "week"])["amount"].sum()
        self.days = set(self.open.index.get_level_values("ref_day"))

    @classmethod
    def load(cls, con, window: DayWindow) -> "ReferenceDays":
        oldest = window.first - timedelta(weeks=OLDEST_REFERENCE)
        stage_clearings(con, window.last)
        # the window's days and their reference days only: a day's run reads 17 days of scores, not 113
        days = sorted({day - timedelta(weeks=k) for day in window.days for k in range(OLDEST_REFERENCE + 1)})
        con.execute("create or replace temp table collection_days as select unnest(?::date[]) as day", [days])
        open_rows = con.execute(OPEN_SQL).df()
        new_rows = con.execute(NEW_SQL, [oldest, window.last]).df()
        return cls(open_rows, new_rows)

    def open_by_bucket(self, day: date) -> pd.Series:
        if day not in self.days:
            return pd.Series(dtype=float)
        return self.open.xs(day, level="ref_day")

    def week(self, day: date, week: int) -> tuple[np.ndarray, float, int] | None:
        """Week ``week`` after ``day``: the share of each group's open amount paid in it, the new
        invoices' mean collections in it, and how many reference days said so; None without one."""
        refs = [r for k in range(week, week + REFERENCES) if (r := day - timedelta(weeks=k)) in self.days]
        if not refs:
            return None
        buckets = np.arange(LATER + 1)
        held = np.zeros(LATER + 1)
        paid = np.zeros(LATER + 1)
        new = 0.0
        for ref in refs:
            held += self.open.xs(ref, level="ref_day").reindex(buckets, fill_value=0.0).to_numpy(float)
            paid += self._paid_in(ref, week).reindex(buckets, fill_value=0.0).to_numpy(float)
            new += float(self.new.get((ref, week), 0.0))
        # a group the references never held is paid in its predicted week (the past-due group in the first)
        shares = np.where(held > 0, paid / np.where(held > 0, held, 1.0), (np.maximum(buckets, 1) == week) * 1.0)
        return shares, new / len(refs), len(refs)

    def _paid_in(self, ref: date, week: int) -> pd.Series:
        try:
            return self.paid.xs((ref, week), level=("ref_day", "week"))
        except KeyError:
            return pd.Series(dtype=float)


def forecast_as_of(references: ReferenceDays, day: date) -> pd.DataFrame:
    """Day ``day``'s forecast, one row per week that has a reference day."""
    today = references.open_by_bucket(day).reindex(np.arange(LATER + 1), fill_value=0.0).to_numpy(float)
    collected = np.zeros(LATER + 1)  # each group's share forecast collected in the weeks before
    rows = []
    for week in range(1, WEEKS + 1):
        found = references.week(day, week)
        if found is None:
            continue
        shares, new, used = found
        # each week's shares come from its own reference days, so a group's 13 shares may add up to
        # more than all of it; an open amount is collected once, the later weeks get what is left
        shares = np.minimum(shares, 1.0 - collected)
        collected += shares
        from_open = float(today @ shares)
        rows.append(
            {
                "as_of_date": day,
                "week": week,
                "week_start": day + timedelta(days=7 * (week - 1) + 1),
                "week_end": day + timedelta(days=7 * week),
                "from_open_invoices": from_open,
                "from_new_invoices": new,
                "predicted_collections": from_open + new,
                "open_amount": float(today.sum()),
                "reference_days": used,
            }
        )
    return pd.DataFrame(rows)


def accuracy_check(con, day: date) -> dg.AssetCheckResult:
    """Weeks 1..8 of the forecasts made in the 13 weeks before ``day``, against seasonal naive, both
    judged on the clearings delivered by ``day``."""
    stage_clearings(con, day)
    forecasts, weeks, model, naive = con.execute(ACCURACY_SQL, {"day": day}).fetchall()[0]
    metadata = {"as_of_date": f"{day}", "forecasts_judged": forecasts, "weeks_judged": weeks}
    if forecasts < MIN_JUDGED or model is None:
        description = f"not judged yet: {forecasts} forecasts with 8 weeks ended by {day}, need {MIN_JUDGED}"
        return dg.AssetCheckResult(check_name=ACCURACY_CHECK, passed=True, description=description, metadata=metadata)
    metadata |= {"weekly_mape": round(model, 4), "seasonal_naive_weekly_mape": round(naive, 4)}
    verdict = "no worse than" if model <= naive else "worse than"
    return dg.AssetCheckResult(
        check_name=ACCURACY_CHECK,
        passed=model <= naive,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"weekly MAPE over weeks 1-8 of {forecasts} forecasts: {model:.1%}, {verdict} seasonal naive's {naive:.1%}"
        ),
        metadata=metadata,
    )


def _day_metadata(weeks: pd.DataFrame) -> dict:
    if not len(weeks):
        return {"rows": 0, "not_computed": "no reference day with a scored payment-date prediction yet"}
    first_four = weeks[weeks["week"] <= 4]["predicted_collections"].sum()
    return {
        "rows": len(weeks),
        "open_amount": round(float(weeks["open_amount"].iloc[0]), 2),
        "next_4_weeks_collections": round(float(first_four), 2),
        "next_13_weeks_collections": round(float(weeks["predicted_collections"].sum()), 2),
    }


def build_ar_collections_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    sources = [
        ["ml", "payment_date_scores"],
        ["silver", "stg_ar_invoice_history"],
        ["silver", "ftr_invoice_at_posting"],
    ]
    key = dg.AssetKey(["ml", "ar_collections_forecast"])

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(source) for source in sources],
        check_specs=[dg.AssetCheckSpec(ACCURACY_CHECK, asset=key, description=ACCURACY_CHECK_DESCRIPTION)],
        kinds={"duckdb"},
        **ml_asset_args(
            partitions_def,
            "Each day's AR collections for the next 13 weeks: the open invoices grouped by the week of their "
            "predicted payment, times the share of such invoices paid in each week on the same weekday of the "
            "last 16 weeks, plus the collections of invoices not posted yet (ml_assets/ar_collections.py). "
            "Table ml.ar_collections_forecast, reporting currency.",
        ),
    )
    def ar_collections_forecast(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
        window = DayWindow.of(context.partition_time_window)
        with warehouse.get_connection() as con:
            references = ReferenceDays.load(con, window)
            forecasts = {day: forecast_as_of(references, day) for day in window.days}
            frames = list(forecasts.values())
            written = outputs.write_days(con, TABLE, COLUMNS, DAY_COLUMN, (window.first, window.last), frames)
            check = accuracy_check(con, window.last)
        for day, weeks in forecasts.items():
            context.add_asset_metadata(_day_metadata(weeks), partition_key=f"{day}")
        context.log.info(f"ml.{TABLE}: {written} rows for {window.label()}")
        yield dg.MaterializeResult()  # per-day figures above: a range's would be copied onto every day
        yield check

    return [ar_collections_forecast]
