"""Cash position: the SME's bank balance 26 weeks ahead, with its band, and the first week it may
fall below a floor.

As of each day D (its partition), for each week 1..26 after D:

- cash in: the customer-payment forecast made that day (``ml.cashflow_forecast``, stream
  ``sme_payments``, from the model serving that day) times the share of customer payments that
  reached the bank over the last 8 weeks (cash and cash on delivery stay in the till, fees are
  deducted), plus the other credits' weekly average over those 8 weeks (deposits, refunds);
- cash out: the supplier bills open at D, each paid on its due date moved by the payables habit
  (days paid after due over the last 180 days: the median, and its 10th and 90th percentiles for
  the band's ends); the bills not received yet (the last 8 weeks' weekly billing, paid after their
  terms and the habit); the recurring debits (a counterparty debited without a bill reference in
  two of the last three months: rent, payroll), repeated monthly on the same day with the latest
  amount;
- the balance: the opening balance (``SMEPULSE_CASH_OPENING_BALANCE_VND``, the balance before the
  statement's first line) plus every statement line through D, then each week's net flow.
- the 80 % band of week w: once at least 20 positions of the last 26 weeks have had their week w
  covered by the statement, the 10th and 90th percentiles of what they got wrong (the statement's
  change from their as-of day to that week's end, less the change they predicted): calibrated out
  of sample, whatever the source of the error. Before that, a band from the weekly bank credits of
  the last 13 weeks (their level taken as wandering, with noise around it: ``spread_by_week``),
  its low end with the bills paid early, its high end late.
  ``band_errors`` says which: how many past errors the week's band was taken from, 0 for the spread.

A week whose low end is below ``SMEPULSE_CASH_FLOOR_VND`` is flagged; the asset's check warns of
the first such week as of the window's last day, a business alert. Table ``ml.cash_position``.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from ml_assets import outputs
from ml_assets.training import ml_asset_args, not_configured
from smepulse_lib.windows import DayWindow

WEEKS = 26
TRAILING_DAYS = 56  # eight weeks: the bank share, other credits and the billing rate
HABIT_DAYS = 180  # the payables habit and the suppliers' terms
RECURRING_DAYS = 92  # a recurring debit shows in two of the last three months
SPREAD_WEEKS = 13
MIN_STATEMENT_DAYS = 28  # four weeks of statement: the spread needs week-on-week changes
CALIBRATION_DAYS = 182  # a band learns from the errors of the positions of the last 26 weeks
MIN_ERRORS = 20  # a week's band is its past errors' once this many have been seen
Z_80 = 1.2816  # the two-sided 80 % band of a normal
TABLE, DAY_COLUMN = "cash_position", "as_of_date"
FLOOR_CHECK = "balance_stays_above_floor"
FLOOR_CHECK_DESCRIPTION = (
    "As of the window's last day, the low end of the bank balance's 80 % band stays at or above the floor "
    "(SMEPULSE_CASH_FLOOR_VND) in each of the next 26 weeks. WARN naming the first week it may not: a business "
    "alert, not a data failure."
)
BANK, BILLS, PAYMENTS = "silver.stg_bank_transactions", "silver.stg_supplier_bills", "silver.stg_payments"
FORECAST_SQL = f"""
    select least(cast(ceil(horizon_days / 7) as int), {WEEKS}) as week, sum(predicted_cash_in) as forecast,
        any_value(model_version) as model_version
    from ml.cashflow_forecast
    where stream = 'sme_payments' and forecast_date = ? and horizon_days <= {WEEKS * 7}
    group by all
"""
STATEMENT_SQL = f"""
    select coalesce(sum(signed_amount_vnd), 0) as net, min(txn_date) as first_day,
        coalesce(sum(amount_vnd) filter (where direction = 'credit' and payment_ref is not null
            and txn_date > ?::date - {TRAILING_DAYS}), 0) as customer_credits,
        coalesce(sum(amount_vnd) filter (where direction = 'credit' and payment_ref is null
            and txn_date > ?::date - {TRAILING_DAYS}), 0) as other_credits
    from {BANK} where txn_date <= ?
"""
SETTLED_SQL = f"""
    select coalesce(sum(amount_vnd), 0) from {PAYMENTS}
    where status = 'paid' and settled_date > ?::date - {TRAILING_DAYS} and settled_date <= ?
"""
HABIT_SQL = f"""
    select coalesce(quantile_cont(paid_date - due_date, [0.1, 0.5, 0.9]), [0, 0, 0]) as days
    from {BILLS} where paid_date > ?::date - {HABIT_DAYS} and paid_date <= ?
"""
OPEN_BILLS_SQL = f"""
    select due_date, amount_vnd from {BILLS} where bill_date <= ? and (paid_date is null or paid_date > ?)
"""
BILLING_SQL = f"""
    select due_date - bill_date as terms_days, amount_vnd, bill_date > ?::date - {TRAILING_DAYS} as recent
    from {BILLS} where bill_date > ?::date - {HABIT_DAYS} and bill_date <= ?
"""
RECURRING_SQL = f"""
    select counterparty, max(txn_date) as last_day, arg_max(amount_vnd, txn_date) as amount
    from {BANK}
    where direction = 'debit' and bill_ref is null and counterparty is not null
        and txn_date > ?::date - {RECURRING_DAYS} and txn_date <= ?
    group by counterparty
    having count(distinct date_trunc('month', txn_date)) >= 2
"""
CREDITS_SQL = f"""
    select cast(floor((?::date - txn_date) / 7) as int) as weeks_back, sum(amount_vnd) as credits
    from {BANK}
    where direction = 'credit' and txn_date > ?::date - {SPREAD_WEEKS * 7} and txn_date <= ?
    group by all
"""
PAST_SQL = f"""
    select as_of_date, week, week_end, balance - opening_balance as predicted_change
    from {outputs.SCHEMA}.{TABLE} where as_of_date > ?::date - {CALIBRATION_DAYS} and as_of_date < ?
"""
DAILY_NET_SQL = f"select txn_date, sum(signed_amount_vnd) as net from {BANK} where txn_date <= ? group by all"
# ml.cash_position as written, for a window with nothing to write
COLUMNS = """as_of_date date, ledger varchar, currency varchar, week integer, week_start date, week_end date,
    customer_cash_in double, other_cash_in double, supplier_bills_open double, supplier_bills_not_received double,
    recurring_debits double, net_flow double, opening_balance double, balance double, balance_low_80 double,
    balance_high_80 double, band_errors integer, floor double, below_floor boolean, cash_in_model_version varchar,
    predicted_at timestamp"""


class CashPolicy(dg.ConfigurableResource):
    """The business's figures the position needs (VND), from SMEPULSE_CASH_OPENING_BALANCE_VND and
    SMEPULSE_CASH_FLOOR_VND (settings.py)."""

    opening_balance_vnd: float = 0.0  # the bank balance before the statement's first line
    floor_vnd: float = 0.0  # a week whose balance may go below it is a business alert


@dataclass(frozen=True)
class Position:
    """One day's 26 weeks (empty when it cannot be had, and then ``reason`` says why)."""

    day: date
    weeks: pd.DataFrame
    reason: str = ""

    def first_below_floor(self) -> pd.Series | None:
        below = self.weeks[self.weeks["below_floor"]]
        return below.iloc[0] if len(below) else None


def _week_of(day: date, when: pd.Series) -> pd.Series:
    """Week 1..26 after ``day`` of each date (NaN past the horizon); a date already past counts in week 1."""
    days_ahead = (pd.to_datetime(when) - pd.Timestamp(day)).dt.days.clip(lower=1)
    weeks = np.ceil(days_ahead / 7)
    return weeks.where(weeks <= WEEKS)


def _by_week(day: date, when: pd.Series, amount: pd.Series) -> np.ndarray:
    weeks = _week_of(day, when)
    frame = pd.DataFrame({"week": weeks, "amount": amount.to_numpy(float)}).dropna()
    totals = frame.groupby("week")["amount"].sum()
    return totals.reindex(range(1, WEEKS + 1), fill_value=0.0).to_numpy(float)


def _scalar(con, sql: str, params: list):
    return con.execute(sql, params).fetchall()[0][0]


def _bills_open(con, day: date, habit: list[float]) -> dict[str, np.ndarray]:
    """The bills open at ``day`` by the week they are paid: early, usual and late payables habit."""
    bills = con.execute(OPEN_BILLS_SQL, [day, day]).df()
    due = pd.to_datetime(bills["due_date"])
    return {
        name: _by_week(day, due + pd.to_timedelta(round(lag), unit="D"), bills["amount_vnd"])
        for name, lag in zip(("early", "usual", "late"), habit, strict=True)
    }


def _bills_not_received(con, day: date, usual_lag: float) -> np.ndarray:
    """Bills to come: the last 8 weeks' weekly billing, each week's bills paid ``terms + habit`` later.
    Week w holds what bills of weeks 1..w pay in it: the weekly rate times P(paid within w - 1 weeks)."""
    billed = con.execute(BILLING_SQL, [day, day, day]).df()
    if not len(billed):
        return np.zeros(WEEKS)
    rate = billed.loc[billed["recent"], "amount_vnd"].sum() / (TRAILING_DAYS / 7)
    weeks_to_pay = np.round((billed["terms_days"].to_numpy(float) + usual_lag) / 7).clip(0, WEEKS)
    share = np.bincount(weeks_to_pay.astype(int), weights=billed["amount_vnd"].to_numpy(float), minlength=WEEKS + 1)
    paid_within = np.cumsum(share / share.sum())
    return rate * paid_within[:WEEKS]


def _recurring(con, day: date) -> np.ndarray:
    """Each recurring debit repeated monthly after its last day, with its latest amount."""
    debits = con.execute(RECURRING_SQL, [day, day]).df()
    dates, amounts = [], []
    for debit in debits.itertuples():
        for months in range(1, WEEKS * 7 // 28 + 2):
            dates.append(pd.Timestamp(debit.last_day) + pd.DateOffset(months=months))
            amounts.append(debit.amount)
    if not dates:
        return np.zeros(WEEKS)
    when = pd.Series(dates)
    ahead = when > pd.Timestamp(day)  # a date already past would otherwise count in week 1
    return _by_week(day, when[ahead], pd.Series(amounts)[ahead.to_numpy()])


def _cumulative_spread(con, day: date, first_day: date) -> np.ndarray:
    """The spread of the cash-in error summed over 1..26 weeks, from the weekly bank credits of the
    whole weeks the statement covers (up to 13; the weeks before its first line are not weeks of none)."""
    whole_weeks = min(SPREAD_WEEKS, ((day - first_day).days + 1) // 7)
    credits = con.execute(CREDITS_SQL, [day, day, day]).df().set_index("weeks_back")["credits"]
    return spread_by_week(credits.reindex(range(whole_weeks), fill_value=0.0).to_numpy(float))


def spread_by_week(weekly: np.ndarray) -> np.ndarray:
    """Weekly credits taken as a level that wanders (a random walk, variance ``level`` a week) plus
    noise around it (``noise``). Their week-on-week changes have variance level + 2 noise and lag-1
    autocovariance -noise (method of moments). Summed over w weeks the error's variance is
    level * w(w+1)(2w+1)/6 + noise * w: a wandering level's error piles up, noise only adds. Pure
    noise gives the square-root widening of independent weeks."""
    changes = np.diff(weekly)
    centred = changes - changes.mean()
    variance = float(np.sum(centred**2) / (len(changes) - 1))
    noise = max(-float(np.sum(centred[:-1] * centred[1:]) / (len(changes) - 1)), 0.0)
    level = max(variance - 2 * noise, 0.0)
    noise = (variance - level) / 2  # what the level does not explain is noise
    w = np.arange(1, WEEKS + 1, dtype=float)
    return np.sqrt(level * w * (w + 1) * (2 * w + 1) / 6 + noise * w)


def position_as_of(con, day: date, policy: CashPolicy) -> Position:
    """The day's 26 weeks, or the reason there are none."""
    net, first_day, customer_credits, other_credits = con.execute(STATEMENT_SQL, [day, day, day]).fetchall()[0]
    if first_day is None or (day - first_day).days + 1 < MIN_STATEMENT_DAYS:
        seen = 0 if first_day is None else (day - first_day).days + 1
        return Position(day, pd.DataFrame(), f"{seen} days of bank statement through {day}; need {MIN_STATEMENT_DAYS}")
    forecast = con.execute(FORECAST_SQL, [day]).df()
    if not len(forecast):
        return Position(day, pd.DataFrame(), f"no customer-payment forecast was made on {day}")
    settled = _scalar(con, SETTLED_SQL, [day, day])
    bank_share = min(customer_credits / settled, 1.0) if settled else 1.0
    habit = list(_scalar(con, HABIT_SQL, [day, day]))
    bills = _bills_open(con, day, habit)
    customer = forecast.set_index("week")["forecast"].reindex(range(1, WEEKS + 1), fill_value=0.0) * bank_share
    weeks = pd.DataFrame(
        {
            "week": range(1, WEEKS + 1),
            "customer_cash_in": customer.to_numpy(float),
            "other_cash_in": other_credits / (TRAILING_DAYS / 7),
            "supplier_bills_open": bills["usual"],
            "supplier_bills_not_received": _bills_not_received(con, day, habit[1]),
            "recurring_debits": _recurring(con, day),
        }
    )
    opening = policy.opening_balance_vnd + float(net)
    return Position(
        day, _balances(day, weeks, bills, opening, _cumulative_spread(con, day, first_day), policy.floor_vnd, forecast)
    )


def _balances(
    day: date, weeks: pd.DataFrame, bills: dict, opening: float, spread: np.ndarray, floor: float, forecast
) -> pd.DataFrame:
    cash_in = weeks["customer_cash_in"] + weeks["other_cash_in"]
    other_out = weeks["supplier_bills_not_received"] + weeks["recurring_debits"]
    band = Z_80 * spread
    weeks["net_flow"] = cash_in - weeks["supplier_bills_open"] - other_out
    weeks["balance"] = opening + weeks["net_flow"].cumsum()
    weeks["balance_low_80"] = opening + (cash_in - bills["early"] - other_out).cumsum() - band
    weeks["balance_high_80"] = opening + (cash_in - bills["late"] - other_out).cumsum() + band
    return weeks.assign(
        as_of_date=day,
        ledger="sme",
        currency="VND",
        week_start=[day + timedelta(days=7 * (w - 1) + 1) for w in weeks["week"]],
        week_end=[day + timedelta(days=7 * w) for w in weeks["week"]],
        opening_balance=opening,
        band_errors=0,
        floor=floor,
        below_floor=weeks["balance_low_80"] < floor,
        cash_in_model_version=forecast["model_version"].iloc[0],
    )


@dataclass
class PastErrors:
    """What earlier positions got wrong, the band's evidence: their predicted balance changes, and
    the statement's running sum at the end of each day through the window's last (its changes are
    the actual ones; the opening balance cancels out)."""

    predictions: pd.DataFrame  # as_of_date, week, week_end (Timestamps), predicted_change
    statement: pd.Series

    @classmethod
    def load(cls, con, window: DayWindow) -> "PastErrors":
        predictions = con.execute(PAST_SQL, [window.first, window.first]).df()
        daily = con.execute(DAILY_NET_SQL, [window.last]).df()
        statement = pd.Series(dtype=float)
        if len(daily):
            net = daily.set_index(pd.to_datetime(daily["txn_date"]))["net"]
            statement = net.reindex(pd.date_range(net.index.min(), pd.Timestamp(window.last)), fill_value=0.0).cumsum()
        return cls(_as_timestamps(predictions), statement)

    def add(self, position: Position) -> None:
        """A position of the window, for the days after it (written only at the step's end)."""
        if len(position.weeks):
            rows = position.weeks.assign(predicted_change=position.weeks["balance"] - position.weeks["opening_balance"])
            rows = _as_timestamps(rows[["as_of_date", "week", "week_end", "predicted_change"]])
            self.predictions = pd.concat([self.predictions, rows], ignore_index=True)

    def by_week(self, day: date) -> dict[int, np.ndarray]:
        """Actual minus predicted change, by week ahead, of the positions of the last CALIBRATION_DAYS
        whose week had ended by ``day``: known that day, so a backfill calibrates as the days did."""
        p, today = self.predictions, pd.Timestamp(day)
        judged = p[(p["week_end"] <= today) & (p["as_of_date"] > today - pd.Timedelta(days=CALIBRATION_DAYS))]
        if not len(judged) or self.statement.empty:
            return {}
        actual = (
            self.statement.reindex(judged["week_end"]).to_numpy()
            - self.statement.reindex(judged["as_of_date"]).to_numpy()
        )
        errors = pd.DataFrame(
            {"week": judged["week"].to_numpy(), "error": actual - judged["predicted_change"].to_numpy()}
        )
        return {int(week): group.to_numpy() for week, group in errors.dropna().groupby("week")["error"]}


def _as_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(as_of_date=pd.to_datetime(frame["as_of_date"]), week_end=pd.to_datetime(frame["week_end"]))


def calibrated(position: Position, errors: dict[int, np.ndarray]) -> Position:
    """The band of each week with MIN_ERRORS past errors: the balance plus their 10th and 90th
    percentiles (never excluding the balance itself, so a past bias widens the band on its side);
    then each side at least as wide as the week before's."""
    if not len(position.weeks):
        return position
    weeks = position.weeks.copy()
    for week, found in errors.items():
        if len(found) >= MIN_ERRORS and week <= WEEKS:
            low, high = np.quantile(found, [0.1, 0.9])
            row = weeks["week"] == week
            weeks.loc[row, "balance_low_80"] = weeks.loc[row, "balance"] + min(low, 0.0)
            weeks.loc[row, "balance_high_80"] = weeks.loc[row, "balance"] + max(high, 0.0)
            weeks.loc[row, "band_errors"] = len(found)
    # what is uncertain by week w stays uncertain after it: no side of a week's band is narrower than
    # the week's before (a calibrated week next to a spread one, or bills whose timing is settled)
    below = (weeks["balance"] - weeks["balance_low_80"]).cummax()
    weeks["balance_low_80"] = weeks["balance"] - below
    weeks["balance_high_80"] = weeks["balance"] + (weeks["balance_high_80"] - weeks["balance"]).cummax()
    weeks["below_floor"] = weeks["balance_low_80"] < weeks["floor"]
    return Position(position.day, weeks, position.reason)


def floor_check(position: Position, statement_lines: int, floor: float) -> dg.AssetCheckResult:
    if not statement_lines:
        return not_configured("no bank statement line has been delivered", FLOOR_CHECK, {"statement_lines": 0})
    if not len(position.weeks):
        return dg.AssetCheckResult(
            check_name=FLOOR_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"not judged: {position.reason}",
            metadata={"as_of_date": f"{position.day}"},
        )
    week = position.first_below_floor()
    lowest = position.weeks.loc[position.weeks["balance_low_80"].idxmin()]
    metadata: dict[str, str | float | int] = {
        "as_of_date": f"{position.day}",
        "floor_vnd": floor,
        "opening_balance_vnd": round(float(position.weeks["opening_balance"].iloc[0])),
        "lowest_low_80_vnd": round(float(lowest["balance_low_80"])),
        "lowest_week_start": f"{lowest['week_start']}",
    }
    if week is None:
        description = (
            f"as of {position.day} the bank balance stays above the floor ({floor:,.0f} VND) for 26 weeks at the "
            f"80 % band's low end; lowest {lowest['balance_low_80']:,.0f} VND in the week of {lowest['week_start']}"
        )
        return dg.AssetCheckResult(check_name=FLOOR_CHECK, passed=True, description=description, metadata=metadata)
    description = (
        f"as of {position.day} the bank balance may fall below the floor ({floor:,.0f} VND) in week "
        f"{int(week['week'])} (from {week['week_start']}): 80 % low end {week['balance_low_80']:,.0f} VND, expected "
        f"{week['balance']:,.0f} VND"
    )
    return dg.AssetCheckResult(
        check_name=FLOOR_CHECK,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={**metadata, "first_week_below_floor": int(week["week"]), "week_start": f"{week['week_start']}"},
    )


def _day_metadata(position: Position) -> dict:
    if not len(position.weeks):
        return {"rows": 0, "not_computed": position.reason}
    week = position.first_below_floor()
    return {
        "rows": len(position.weeks),
        "opening_balance_vnd": round(float(position.weeks["opening_balance"].iloc[0])),
        "balance_in_26_weeks_vnd": round(float(position.weeks["balance"].iloc[-1])),
        "first_week_below_floor": int(week["week"]) if week is not None else 0,
        "weeks_with_calibrated_band": int((position.weeks["band_errors"] > 0).sum()),
    }


def build_cash_position_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    key = dg.AssetKey(["ml", "cash_position"])
    sources = [["silver", name.split(".")[1]] for name in (BANK, BILLS, PAYMENTS)]

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(["ml", "cashflow_forecast"]), *map(dg.AssetKey, sources)],
        check_specs=[dg.AssetCheckSpec(FLOOR_CHECK, asset=key, description=FLOOR_CHECK_DESCRIPTION)],
        kinds={"duckdb"},
        **ml_asset_args(
            partitions_def,
            "Each day's bank balance path 26 weeks ahead with its 80 % band: the customer-payment forecast, "
            "open and expected supplier bills on the payables habit, recurring debits; weeks that may go below "
            "the floor are flagged (ml_assets/cash_position.py). Table ml.cash_position.",
        ),
    )
    def cash_position(context: dg.AssetExecutionContext, warehouse: DuckDBResource, cash_policy: CashPolicy):
        window = DayWindow.of(context.partition_time_window)
        with warehouse.get_connection() as con:
            positions = positions_for(con, window, cash_policy)
            written = write_positions(con, window, positions)
            statement_lines = _scalar(con, f"select count(*) from {BANK} where txn_date <= ?", [window.last])
        for position in positions:
            context.add_asset_metadata(_day_metadata(position), partition_key=f"{position.day}")
        context.log.info(f"ml.{TABLE}: {written} rows for {window.label()}")
        yield dg.MaterializeResult()  # per-day figures above: a range's would be copied onto every day
        yield floor_check(positions[-1], statement_lines, cash_policy.floor_vnd)

    return [cash_position]


def positions_for(con, window: DayWindow, policy: CashPolicy) -> list[Position]:
    """Each day's position, in order: a day's band learns from the positions of the days before it,
    those of the window included (a range gives the bands its days one by one would)."""
    con.execute(f"create schema if not exists {outputs.SCHEMA}")
    con.execute(f"create table if not exists {outputs.SCHEMA}.{TABLE} ({COLUMNS})")  # PastErrors reads it
    past = PastErrors.load(con, window)
    positions = []
    for day in window.days:
        positions.append(calibrated(position_as_of(con, day, policy), past.by_week(day)))
        past.add(positions[-1])
    return positions


def write_positions(con, window: DayWindow, positions: list[Position]) -> int:
    frames = [p.weeks for p in positions]
    return outputs.write_days(con, TABLE, COLUMNS, DAY_COLUMN, (window.first, window.last), frames)
