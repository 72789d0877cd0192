"""Bring your own receivables: an AR export of a shape no shipped file has (German headers, `;`
separated, `1.234,56` amounts, dd.mm.yyyy dates, text invoice numbers, 2012-2013, EUR and CHF
with the rates in the business's own FX file), onboarded by one mapping YAML and nothing else,
through real Dagster runs, dbt and DuckDB. Gold's AR figures are compared with an independent
pandas computation straight from the export."""

import csv
import io
import random
import shutil
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from ml_assets.training import SERVING_CHECK
from smepulse_assets.ar_import.convert import import_file
from smepulse_assets.ar_import.mapping import load_mapping
from smepulse_assets.ingestion.header_report import ForeignFileError
from smepulse_assets.kaggle_invoices.replay import read_snapshot
from smepulse_assets.quality.rules import RulesError
from smepulse_assets.reports.figures import Figures
from smepulse_assets.tools import cli
from smepulse_assets.tools.runs import run_days, run_reference
from smepulse_lib import warehouse
from smepulse_lib.names import ML_JOB
from tests.conftest import Platform, make_settings
from tests.kaggle_samples import HEADER_LINE
from tests.reference_ar import ar_on

pytestmark = pytest.mark.slow

FIRST, LAST = date(2012, 11, 1), date(2013, 2, 28)
HEADER = ["Beleg-Nr", "Kunde", "Kundenname", "Belegdatum", "Fälligkeit", "Betrag", "Währung", "Bezahlt am",
          "Strittig", "Region", "Papierlos", "Betreuer"]  # fmt: skip
MAPPING = """
name: acme_erp
description: ACME's ERP open-items export, one row per invoice
delimiter: ";"
encoding: utf-8
number_format: {decimal: ",", thousands: "."}
fields:
  invoice: Beleg-Nr
  customer: Kunde
  customer_name: Kundenname
  company: {constant: ACME}
  currency: {column: Währung, default: EUR}
  posting_date: {column: Belegdatum, format: "%d.%m.%Y"}
  due_date: {column: Fälligkeit, format: "%d.%m.%Y"}
  amount: Betrag
  clear_date: {column: Bezahlt am, format: "%d.%m.%Y"}
  disputed: Strittig
  paperless: {column: Papierlos, default: "0"}
  sales_rep: Betreuer
"""
# The business's own rates into USD (none of them is shipped: the seed starts in 2015, has no EUR or CHF)
RATES = {"EUR": 1.30, "CHF": 1.07}
BAD_LINES = {  # line in the file -> what is wrong, as the set-aside file must say
    7: ("Belegdatum", "31.02.2013"),
    12: ("Betrag", "12,34,5"),
    15: ("Strittig", "vielleicht"),
}


def _german(amount: float) -> str:
    whole, cents = f"{amount:,.2f}".split(".")
    return f"{whole.replace(',', '.')},{cents}"


def _export() -> tuple[bytes, list[dict]]:
    """The export, and what it says as plain values (the independent reading of it)."""
    rng = random.Random(5)
    rows, truth, number = [], [], 0
    day = FIRST
    while day <= LAST:
        for _ in range(rng.randint(2, 9)):
            number += 1
            due = day + timedelta(days=rng.choice([14, 30, 45]))
            paid = due + timedelta(days=rng.randint(-10, 50))
            paid = paid if rng.random() < 0.8 and paid <= LAST else None
            amount = round(rng.uniform(40, 30000), 2)
            currency = rng.choice(["EUR", "EUR", "EUR", "CHF", ""])
            customer = f"K{rng.randint(1, 25):03d}"
            rows.append([f"RE-{day.year}-{number:05d}", customer, f"Kunde {customer}", f"{day:%d.%m.%Y}",
                         f"{due:%d.%m.%Y}", _german(amount), currency, f"{paid:%d.%m.%Y}" if paid else "",
                         rng.choice(["ja", "nein"]), rng.choice(["Nord", "Süd"]), rng.choice(["x", ""]),
                         rng.choice(["Anna", "Ben", ""])])  # fmt: skip
            truth.append({"posted": day, "due": due, "amount": amount, "currency": currency or "EUR", "paid": paid,
                          "customer": customer, "disputed": rows[-1][8] == "ja", "paperless": rows[-1][10] == "x",
                          "rep": rows[-1][11] or None})  # fmt: skip
        day += timedelta(days=1)
    for line, (column, value) in BAD_LINES.items():  # line 1 is the header
        rows[line - 2][HEADER.index(column)] = value
        truth[line - 2] = None
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8"), [t for t in truth if t is not None]


def _fx_file(path) -> str:
    lines = ["rate_date,currency,reporting_currency,rate"]
    month = date(2010, 1, 1)
    while month < date(2014, 1, 1):
        for currency, rate in RATES.items():
            lines.append(f"{month},{currency},USD,{rate + (month.month - 6) / 1000:.4f}")
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _independent(truth: list[dict], fx_path: str) -> pd.DataFrame:
    """The export's invoices with USD amounts by the documented rule (newest rate on or before the
    posting date, rounded to cents), in the shape tests/reference_ar.py computes AR from."""
    fx = pd.read_csv(fx_path, parse_dates=["rate_date"]).sort_values("rate_date")
    invoices = pd.DataFrame(truth)
    rate = [
        fx[(fx.currency == c) & (fx.rate_date <= pd.Timestamp(p))]["rate"].iloc[-1]
        for c, p in zip(invoices.currency, invoices.posted, strict=True)
    ]
    return pd.DataFrame(
        {
            "posted": pd.to_datetime(invoices.posted),
            "due": pd.to_datetime(invoices.due),
            "amount_usd": (invoices.amount * pd.Series(rate)).round(2),
            "cleared_on": pd.to_datetime(invoices.paid),
            "customer": invoices.customer,
        }
    )


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own_ledger")
    export, truth = _export()
    (folder / "acme.csv").write_bytes(export)
    (folder / "acme_erp.yaml").write_text(MAPPING)
    fx_path = _fx_file(folder / "my_fx_rates.csv")
    settings = make_settings(folder, SMEPULSE_PARTITIONS_START=f"{FIRST}", SMEPULSE_FX_RATES_FILE=fx_path)
    done = import_file(str(folder / "acme.csv"), load_mapping(folder / "acme_erp.yaml"), settings.landing_url)
    platform = Platform(settings)
    run_reference(platform.defs, platform.instance)
    assert run_days(platform.defs, platform.instance, FIRST, LAST).success
    return platform, done, _independent(truth, fx_path), folder


def test_the_import_keeps_every_row_once(ledger):
    _, done, truth, _ = ledger
    assert done.rows == len(truth) and done.set_aside == len(BAD_LINES)
    assert done.first_day == FIRST and len(done.files) == (LAST - FIRST).days + 1
    aside = pd.read_csv(done.set_aside_url, dtype=str)
    assert aside["line"].astype(int).tolist() == sorted(BAD_LINES)
    assert "Belegdatum (posting_date) '31.02.2013' is not a date %d.%m.%Y" in aside["reason"].iloc[0]
    assert "Betrag (amount) '12,34,5'" in aside["reason"].iloc[1]
    assert "Strittig (disputed) 'vielleicht' is not yes/no" in aside["reason"].iloc[2]


def test_gold_ar_figures_equal_an_independent_computation_from_the_export_on_every_day(ledger):
    platform, _, truth, _ = ledger
    path = platform.settings.warehouse_path
    kpis = warehouse.query(path, "select * from gold.kpi_ar_dso_analysis").set_index("as_of_date")
    aging = warehouse.query(path, "select * from gold.kpi_ar_aging order by as_of_date, bucket_order")
    aging = {pd.Timestamp(day).date(): rows for day, rows in aging.groupby("as_of_date")}
    day = FIRST
    while day <= LAST:
        expected, kpi = ar_on(truth, day), kpis.loc[pd.Timestamp(day)]
        for column in ("open_invoices", "invoices_posted", "invoices_paid", "overdue_invoices"):
            assert kpi[column] == expected[column], (day, column)
        cents = 0.01 * expected["open_invoices"]  # half-even (pandas) vs half-up (DuckDB): a cent per invoice at most
        assert kpi["open_amount"] == pytest.approx(expected["open_amount"], abs=cents), day
        assert kpi["dso_days"] == pytest.approx(expected["dso_days"], abs=0.01), day
        assert aging[day]["invoice_count"].tolist() == expected["aging_counts"], day
        assert aging[day]["open_amount"].tolist() == pytest.approx(expected["aging_amounts"], abs=cents), day
        day += timedelta(days=1)


def test_every_day_of_the_history_is_in_gold_and_nothing_was_quarantined(ledger):
    platform, _, truth, _ = ledger
    path = platform.settings.warehouse_path
    days = warehouse.query(path, "select count(distinct as_of_date) as n from gold.kpi_ar_dso_analysis")["n"].iloc[0]
    assert days == (LAST - FIRST).days + 1
    quarantined = warehouse.query(path, "select count(*) as n from ops.ops_quarantine")["n"].iloc[0]
    assert quarantined == 0
    invoices = warehouse.query(path, "select count(*) as n, min(invoice_date) as first from silver.stg_ar_invoices")
    assert invoices["n"].iloc[0] == len(truth) and pd.Timestamp(invoices["first"].iloc[0]).date() == FIRST
    calendar = warehouse.query(path, "select min(date_day) as first from gold.dim_date")["first"].iloc[0]
    assert pd.Timestamp(calendar).date() == date(2010, 1, 1)  # two years before the first partition day


def test_the_ledgers_extras_reach_the_facts_and_the_model_features(ledger):
    """Disputed, paperless and the sales rep, mapped from the export, are in the invoice facts,
    the daily snapshot and the features the payment and collection models read, as the export has
    them; an empty Papierlos is "no" (the mapping's default), an empty Betreuer stays unknown."""
    platform, *_ = ledger
    _, truth = _export()
    path = platform.settings.warehouse_path
    expected = (
        pd.DataFrame(truth)
        .assign(rep=lambda f: f["rep"].fillna("-"))
        .groupby(["customer", "disputed", "paperless", "rep"])
        .size()
    )
    facts = warehouse.query(
        path,
        "select customer_number as customer, is_disputed as disputed, is_paperless as paperless,"
        " coalesce(sales_rep, '-') as rep, count(*) as n from gold.fact_ar_invoices group by all",
    ).set_index(["customer", "disputed", "paperless", "rep"])["n"]
    assert facts.sort_index().to_dict() == expected.sort_index().to_dict()
    assert expected.index.get_level_values("disputed").nunique() == 2  # the file holds both answers

    features = warehouse.query(
        path,
        "select is_disputed, is_paperless, count(*) as n, count(sales_rep) as with_rep"
        " from silver.ftr_invoice_at_posting group by all order by all",
    )
    assert set(features["is_disputed"]) == {0.0, 1.0} and set(features["is_paperless"]) == {0.0, 1.0}
    assert features["n"].sum() == len(truth)
    open_on_last = warehouse.query(
        path,
        "select count(*) as n, count(is_disputed) as known from silver.ftr_invoice_risk"
        " where as_of_date = ? and status = 'open'",
        [LAST],
    ).iloc[0]
    assert open_on_last["n"] > 0 and open_on_last["known"] == open_on_last["n"]


def test_customer_value_segments_follow_the_ledgers_own_customers(ledger):
    """A small business's customers are not all "small": the thresholds of a month are the median
    and 90th percentile of what the ledger's customers had been invoiced before it (USD, computed
    here from the export), and each customer's current segment is its total against the
    thresholds of the month of its last event (a posting, or a payment delivered)."""
    platform, _, truth, _ = ledger
    path = platform.settings.warehouse_path
    thresholds = warehouse.query(path, "select * from silver.ftr_ledger_value_thresholds order by segment_month")
    months = [date(2012, 12, 1), date(2013, 1, 1), date(2013, 2, 1)]
    assert [d.date() for d in pd.to_datetime(thresholds["segment_month"])] == months  # none before any delivery
    for month, row in zip(months, thresholds.itertuples(), strict=True):
        billed = truth[truth["posted"] < pd.Timestamp(month)].groupby("customer")["amount_usd"].sum()
        assert row.customers_used == len(billed) and row.business_code == "ACME"
        assert row.mid_from == pytest.approx(billed.quantile(0.5), abs=0.01)
        assert row.key_from == pytest.approx(billed.quantile(0.9), abs=0.01)

    delivered_paid = truth["cleared_on"].where(truth["cleared_on"] >= truth["posted"], truth["posted"])
    last_event = pd.concat([truth["posted"], delivered_paid]).groupby(pd.concat([truth["customer"]] * 2)).max()
    cut = thresholds.assign(month=pd.to_datetime(thresholds["segment_month"])).set_index("month")
    expected = {}
    for customer, total in truth.groupby("customer")["amount_usd"].sum().items():
        row = cut.loc[last_event[customer].to_period("M").to_timestamp()]
        expected[customer] = "small" if total < row.mid_from else "mid" if total < row.key_from else "key"
    current = warehouse.query(path, "select customer_number, value_segment from gold.dim_ar_customer where is_current")
    assert dict(zip(current["customer_number"], current["value_segment"], strict=True)) == expected
    assert set(expected.values()) == {"small", "mid", "key"}


def test_a_business_sets_its_own_thresholds_for_a_ledger(ledger, tmp_path):
    """SMEPULSE_LEDGER_THRESHOLDS_FILE: the business's own size and value thresholds for ACME win
    over the derived ones, from the next run on (a copy of the warehouse, re-run for its last day)."""
    _, _, truth, folder = ledger
    shutil.copytree(folder / "data", tmp_path / "data")
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text("ACME:\n  small_below: 1000\n  medium_below: 20000\n  mid_from: 1\n  key_from: 2.5\n")
    settings = make_settings(
        tmp_path,
        SMEPULSE_PARTITIONS_START=f"{FIRST}",
        SMEPULSE_FX_RATES_FILE=str(folder / "my_fx_rates.csv"),
        SMEPULSE_LEDGER_THRESHOLDS_FILE=str(thresholds),
    )
    platform = Platform(settings)
    assert run_days(platform.defs, platform.instance, LAST, LAST).success
    path = settings.warehouse_path
    risk = warehouse.query(
        path, "select amount, invoice_size_bracket from silver.ftr_invoice_risk where as_of_date = ?", [LAST]
    )
    expected = pd.cut(risk["amount"], [-1, 999.999999, 19999.999999, float("inf")], labels=["small", "medium", "large"])
    assert risk["invoice_size_bracket"].tolist() == expected.astype(str).tolist() and len(risk) > 50
    touched = set(
        truth.loc[(truth["posted"] == pd.Timestamp(LAST)) | (truth["cleared_on"] == pd.Timestamp(LAST)), "customer"]
    )
    current = warehouse.query(path, "select customer_number, value_segment from gold.dim_ar_customer where is_current")
    assert touched and set(current.loc[current["customer_number"].isin(touched), "value_segment"]) == {"key"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ACME:\n  small_below: 10\n", "small_below and medium_below go together"),
        ("ACME:\n  small_below: 10\n  medium_below: 5\n", "0 < small_below <= medium_below"),
        ("ACME:\n  mid_from: x\n  key_from: 5\n", "must be numbers"),
        ("ACME:\n  smal_below: 10\n", "give one or both pairs"),
        ("- ACME\n", "expected a mapping of company code"),
    ],
)
def test_a_thresholds_file_with_a_mistake_names_it(tmp_path, text, problem):
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(ValueError, match=problem):
        make_settings(tmp_path, SMEPULSE_LEDGER_THRESHOLDS_FILE=str(tmp_path / "t.yaml"))


def test_a_header_that_does_not_match_says_what_is_missing_extra_and_renamed(tmp_path):
    export, _ = _export()
    renamed = export.replace("Fälligkeit".encode(), b"Faelligkeit", 1).replace(b"Betrag", b"betrag ", 1)
    (tmp_path / "acme.csv").write_bytes(renamed)
    (tmp_path / "m.yaml").write_text(MAPPING)
    with pytest.raises(ForeignFileError) as refused:
        import_file(str(tmp_path / "acme.csv"), load_mapping(tmp_path / "m.yaml"), str(tmp_path / "landing"))
    message = str(refused.value)
    assert "missing (2): Fälligkeit, Betrag" in message
    assert "extra (3, not read): Faelligkeit, betrag, Region" in message
    assert "renamed? Fälligkeit -> Faelligkeit" in message and "renamed? Betrag -> betrag" in message
    assert not (tmp_path / "landing").exists()  # nothing written


def test_a_wrong_date_format_refuses_the_import_with_the_first_bad_values(tmp_path, capsys):
    export, _ = _export()
    (tmp_path / "acme.csv").write_bytes(export)
    (tmp_path / "m.yaml").write_text(MAPPING.replace('format: "%d.%m.%Y"}\n  due', 'format: "%Y-%m-%d"}\n  due'))
    code = cli.main(["import", str(tmp_path / "acme.csv"), "--mapping", str(tmp_path / "m.yaml"),
                     "--landing", str(tmp_path / "landing")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "nothing was written" in err
    assert "Belegdatum (posting_date): " in err and "line 2: '01.11.2012' is not a date %Y-%m-%d" in err
    assert "Traceback" not in err and not (tmp_path / "landing").exists()


def test_a_second_ledger_whose_invoice_ids_collide_is_refused_until_its_ids_are_per_ledger(tmp_path):
    """The same invoice id from two ledgers would be one invoice in every table: the import refuses
    before writing, names the ids and files, and `invoice_ids: per_ledger` keeps the ledgers apart.
    A newer export of the same ledger replaces its own files."""
    export, _ = _export()
    (tmp_path / "acme.csv").write_bytes(export)
    landing = tmp_path / "landing"

    def imported(name: str, extra: str = ""):
        (tmp_path / f"{name}.yaml").write_text(MAPPING.replace("name: acme_erp", f"name: {name}{extra}"))
        return import_file(str(tmp_path / "acme.csv"), load_mapping(tmp_path / f"{name}.yaml"), str(landing))

    first = imported("acme_erp")
    assert imported("acme_erp").files == first.files  # the same ledger again: its own files replaced
    files = sorted(landing.rglob("*.csv"))
    with pytest.raises(ForeignFileError) as refused:
        imported("acme_copy")
    assert f"{first.rows} invoice id(s) are delivered already" in str(refused.value)
    assert "acme_erp_2012-11-01.csv" in str(refused.value) and "invoice_ids: per_ledger" in str(refused.value)
    assert sorted(landing.rglob("*.csv")) == files  # nothing written

    other = imported("acme_copy", "\ninvoice_ids: per_ledger")
    assert other.rows == first.rows

    def ids(stem: str) -> set[str]:
        return {r["doc_id"] for f in landing.rglob(f"{stem}_*.csv") for r in csv.DictReader(f.open())}

    assert len(ids("acme_copy")) == first.rows and not ids("acme_copy") & ids("acme_erp")


def test_a_mapping_that_misses_a_required_field_names_it(tmp_path):
    (tmp_path / "m.yaml").write_text(MAPPING.replace("  amount: Betrag\n", ""))
    with pytest.raises(RulesError, match=r"required fields \['amount'\] have no column or constant"):
        load_mapping(tmp_path / "m.yaml")
    (tmp_path / "m.yaml").write_text(MAPPING.replace("  amount: Betrag\n", "  amount: Betrag\n  amount_due: X\n"))
    with pytest.raises(RulesError, match=r"\['amount_due'\] are not fields of the ledger contract"):
        load_mapping(tmp_path / "m.yaml")
    (tmp_path / "m.yaml").write_text(MAPPING.replace("name: acme_erp", "name: ../acme"))
    with pytest.raises(RulesError, match="may hold only letters, digits"):
        load_mapping(tmp_path / "m.yaml")


def test_replay_of_a_kaggle_variant_names_the_renamed_column(tmp_path):
    variant = HEADER_LINE.replace("buisness_year", "business_year")
    (tmp_path / "variant.csv").write_text(variant + "\n")
    with pytest.raises(ForeignFileError, match="renamed\\? buisness_year -> business_year"):
        read_snapshot(str(tmp_path / "variant.csv"))


def test_models_of_data_the_ledger_does_not_have_say_not_configured(ledger):
    """A receivables-only deployment: churn (orders) and the SME payments forecast (payments) have
    nothing to learn from; they say so and pass instead of an ERROR every day."""
    platform, *_ = ledger
    result = run_days(platform.defs, platform.instance, LAST, LAST, job_name=ML_JOB)
    assert result.success
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    for key in (("ml/churn_model", SERVING_CHECK), ("ml/cashflow_model", "sme_payments_mape_below_15_percent")):
        assert checks[key].passed, key
        assert checks[key].description.startswith("not configured: "), checks[key].description
    # the worklist a credit controller reads says which invoices the customer disputes
    with duckdb.connect(platform.settings.warehouse_path, read_only=True) as con:
        worklist = Figures(con, LAST).worklist()
        invoices = con.execute("select doc_id, is_disputed from gold.fact_ar_invoices").df()
    assert len(worklist) > 0 and worklist["is_disputed"].notna().all()
    flags = worklist.merge(invoices, on="doc_id", suffixes=("", "_invoice"))
    assert len(flags) == len(worklist) and (flags["is_disputed"] == flags["is_disputed_invoice"]).all()
