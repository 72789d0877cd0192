"""A corpus of bad deliveries, and a runner that loads each over a clean world and judges the outcome.

Each case breaks one day's landing folder of one source in one way (a file, its placement, or a
row appended with one field wrong) and says what a correct platform does with it:

- ``load``: every row loads, with exact values (a case may check them);
- ``quarantine``: the broken rows, and only they, go to quarantine with the expected rule and a
  reason that names the column or value;
- ``refuse``: the run fails naming the file and the problem, and nothing of the day is written;
- ``skip``: the file is not loaded and the ``files_accounted_for`` WARN check names it.

The runner loads the two days before through bronze first and checks that the case leaves their
partitions byte for byte as they were, and that rows read = loaded + quarantined. Run it to print
the table: ``.venv/bin/python -m tests.bad_input_corpus``.
"""

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from smepulse_assets.ingestion.bronze import partition_url, stored_data_reader, write_window
from smepulse_assets.ingestion.spec import SourceSpec, shipped_source
from smepulse_assets.quality import source_checks
from smepulse_assets.tools.generator import GeneratorConfig, generate_sample_data, world_config
from smepulse_lib.windows import DayWindow

FIRST, DAY = date(2020, 1, 1), date(2020, 1, 3)  # the world; the corpus breaks its last day
EARLIER = [date(2020, 1, 1), date(2020, 1, 2)]


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # the class of trouble: file, placement, row, value
    source: str
    expect: str  # load | quarantine | refuse | skip
    breaks: Callable[["Folder"], None]
    rule: str = ""  # quarantine: the rule's prefix; refuse: a phrase of the problem; skip: the skip rule
    broken_rows: int = 0  # quarantine: rows that must go there (the rest of the day loads)
    verify: Callable[[pd.DataFrame], bool] | None = None  # load: the loaded rows are exactly right
    keeps_day: bool = True  # load, quarantine: every clean row of the day still loads


@dataclass
class Folder:
    """One source's folder for the broken day, and a valid row of that source to break."""

    path: Path
    header: list[str]
    template: dict[str, str]

    @property
    def main_file(self) -> Path:
        return sorted(p for p in self.path.iterdir() if p.is_file())[0]

    def append(self, *changes: dict[str, str], raw: list[str] | None = None) -> None:
        """Rows appended to the day's file: the template with each change, or raw lines as given."""
        lines = raw or [",".join(_quoted({**self.template, **change}[c]) for c in self.header) for change in changes]
        with self.main_file.open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))

    def write(self, name: str, data: bytes) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def move_main(self, name: str) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.main_file.rename(target)

    def text(self) -> str:
        return self.main_file.read_text(encoding="utf-8")


def _quoted(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ',"\n') else value


@dataclass
class Outcome:
    case: Case
    outcome: str  # loaded | quarantined | refused | skipped | crashed
    message: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    earlier_untouched: bool = True
    problems: list[str] = field(default_factory=list)  # where it differs from what the case expects

    @property
    def correct(self) -> bool:
        return not self.problems


# --- the cases ---------------------------------------------------------------


def _replace_text(old: str, new: str, count: int = 1) -> Callable[[Folder], None]:
    def breaks(folder: Folder) -> None:
        text = folder.text()
        assert old in text, f"{old!r} not in {folder.main_file}"
        folder.main_file.write_text(text.replace(old, new, count), encoding="utf-8")

    return breaks


def _bytes(transform: Callable[[bytes], bytes]) -> Callable[[Folder], None]:
    def breaks(folder: Folder) -> None:
        folder.main_file.write_bytes(transform(folder.main_file.read_bytes()))

    return breaks


def _rows(*changes: dict[str, str]) -> Callable[[Folder], None]:
    return lambda folder: folder.append(*changes)


def _cut_row(folder: Folder) -> None:
    """A row cut in the middle (a write interrupted), then the file goes on."""
    row = ",".join(_quoted(folder.template[c]) for c in folder.header)
    folder.append(raw=[row[: len(row) // 2]])


def _cut_last_date(folder: Folder) -> None:
    """A row whose last field, a date, lost its last character: 2020-01-13 became 2020-01-1."""
    row = ",".join(_quoted({**folder.template, folder.header[-1]: "2020-01-13"}[c]) for c in folder.header)
    folder.append(raw=[row[:-1]])


def _both_ids(frame: pd.DataFrame) -> bool:
    return {9007199254740993, 9007199254740992} <= set(frame["doc_id"].astype("int64"))


def _symlink(target: Callable[[Folder], str]) -> Callable[[Folder], None]:
    return lambda folder: os.symlink(target(folder), folder.path / "linked.csv")


def _outside_file(folder: Folder) -> str:
    outside = Path(tempfile.mkdtemp()) / "elsewhere.csv"
    shutil.copy(folder.main_file, outside)
    return str(outside)


K, P, C, ORD = "kaggle_invoices", "payments", "customers", "orders"

CASES = [
    # the file as a whole
    Case("empty file", "file", K, "refuse", _bytes(lambda b: b""), "file is empty"),
    Case("header only", "file", K, "load", _bytes(lambda b: b.split(b"\n", 1)[0] + b"\n"), keeps_day=False),
    Case(
        "latin-1 encoding", "file", C, "refuse", _bytes(lambda b: b + "KH9,Nguyên,HN\n".encode("latin-1")), "not UTF-8"
    ),
    Case("binary content", "file", K, "refuse", _bytes(lambda b: b"\x00\x01PK" + b), "NUL bytes"),
    Case("column missing", "file", K, "refuse", _bytes(lambda b: b.replace(b",isOpen", b"", 1)), "missing columns"),
    Case(
        "column renamed",
        "file",
        K,
        "refuse",
        _bytes(lambda b: b.replace(b"buisness_year", b"business_year", 1)),
        "wrong header",
    ),
    Case("extra column", "file", P, "refuse", _bytes(lambda b: b.replace(b"\n", b",note\n", 1)), "unexpected columns"),
    Case(
        "columns reordered",
        "file",
        P,
        "refuse",
        _bytes(lambda b: b.replace(b"payment_id,order_id", b"order_id,payment_id", 1)),
        "out of order",
    ),
    Case("file cut off mid-row", "file", K, "refuse", _bytes(lambda b: b[: len(b) - 25]), "truncated"),
    Case(
        "unclosed quote",
        "file",
        C,
        "refuse",
        lambda f: f.append(raw=['KH9,"Nguyen,HN,VN,retail,1,30,2020-01-03']),
        "is never closed",
    ),
    Case(
        "3 MiB quoted field",
        "file",
        C,
        "load",
        _rows({"customer_name": "Cong ty A, " + "N" * 3 * 2**20, "customer_code": "KH901"}),
        verify=lambda frame: frame["customer_name"].str.len().max() == 11 + 3 * 2**20,
    ),
    Case(  # longer than Arrow's read block: the file goes to Python's reader, which takes it
        "3 MiB unquoted field",
        "file",
        C,
        "load",
        _rows({"customer_name": "N" * 3 * 2**20, "customer_code": "KH902"}),
        verify=lambda frame: frame["customer_name"].str.len().max() == 3 * 2**20,
    ),
    Case(
        "field beyond max_field_bytes",
        "value",
        C,
        "quarantine",
        _rows({"customer_name": "N" * (16 * 2**20 + 1), "customer_code": "KH903"}),
        "field_too_long:customer_name",
        1,
    ),
    Case("byte-order mark", "file", K, "load", _bytes(lambda b: b"\xef\xbb\xbf" + b)),
    Case("Windows line ends", "file", K, "load", _bytes(lambda b: b.replace(b"\n", b"\r\n"))),
    Case("blank lines between rows", "file", P, "load", _bytes(lambda b: b.replace(b"\n", b"\n\n", 3))),
    Case(
        "quoted comma and line break",
        "file",
        C,
        "load",
        _rows({"customer_name": "Cong ty A, chi nhanh\nHa Noi", "customer_code": "KH900"}),
    ),
    # where the file lies
    Case("upper-case extension", "placement", K, "load", lambda f: f.move_main("INVOICES.CSV")),
    Case("file in a sub-folder", "placement", K, "skip", lambda f: f.move_main("late/invoices.csv"), "in_subfolder"),
    Case(
        "hidden file",
        "placement",
        P,
        "skip",
        lambda f: f.write(".payments.csv", f.main_file.read_bytes()),
        "hidden_file",
    ),
    Case("other extension", "placement", P, "skip", lambda f: f.write("payments.txt", b"x"), "name_not_matching"),
    Case("dangling symlink", "placement", K, "skip", _symlink(lambda f: "/nonexistent/file.csv"), "dangling_symlink"),
    Case("symlink out of the landing zone", "placement", K, "skip", _symlink(_outside_file), "symlink_leaves_landing"),
    Case("named pipe", "placement", K, "skip", lambda f: os.mkfifo(f.path / "stream.csv"), "not_a_regular_file"),
    Case(
        "day split over two files",
        "placement",
        P,
        "load",
        lambda f: f.write("payments_part2.csv", (",".join(f.header) + "\n").encode()),
    ),
    # rows cut or misshapen
    Case(f"row cut mid-way ({K})", "row", K, "quarantine", _cut_row, "field_count", 1),
    Case(
        "row with a field too many",
        "row",
        P,
        "quarantine",
        lambda f: f.append(raw=[",".join([*(_quoted(f.template[c]) for c in f.header), "x"])]),
        "field_count",
        1,
    ),
    Case("customers row cut in its last date", "row", C, "quarantine", _cut_last_date, "type:updated_on", 1),
    *(
        Case(f"row cut mid-way ({source})", "row", source, "quarantine", _cut_row, "field_count", 1)
        for source in (P, C, ORD, "products", "shipments", "supplier_bills", "bank_transactions")
    ),
    # required values
    Case("required id empty", "value", K, "quarantine", _rows({"doc_id": ""}), "required:doc_id", 1),
    Case(
        "customer number only spaces",
        "value",
        K,
        "quarantine",
        _rows({"cust_number": "   "}),
        "required:cust_number",
        1,
    ),
    Case(
        "business code only spaces",
        "value",
        K,
        "quarantine",
        _rows({"business_code": "  "}),
        "required:business_code",
        1,
    ),
    # whole numbers
    Case(
        "ids above 2^53",
        "value",
        K,
        "load",
        _rows({"doc_id": "9007199254740993", "invoice_id": ""}, {"doc_id": "9007199254740992", "invoice_id": ""}),
        verify=_both_ids,
    ),
    Case("id beyond 64 bits", "value", K, "quarantine", _rows({"doc_id": "99999999999999999999999"}), "type:doc_id", 1),
    Case("negative id", "value", K, "quarantine", _rows({"doc_id": "-5"}), "range:doc_id", 1),
    Case("fractional id", "value", K, "quarantine", _rows({"doc_id": "1930438491.5"}), "type:doc_id", 1),
    Case(
        "id written as a float",
        "value",
        K,
        "load",
        _rows({"doc_id": "1930438999.0", "invoice_id": ""}),
        verify=lambda frame: 1930438999 in set(frame["doc_id"].astype("int64")),
    ),
    # amounts
    Case(
        "VND thousands dot, ambiguous", "value", P, "quarantine", _rows({"amount_vnd": "572.000"}), "type:amount_vnd", 1
    ),
    Case("VND thousands dots", "value", P, "quarantine", _rows({"amount_vnd": "53.541.300"}), "type:amount_vnd", 1),
    Case("VND decimal comma", "value", P, "quarantine", _rows({"amount_vnd": "572000,5"}), "type:amount_vnd", 1),
    Case(
        "VND amount with a symbol",
        "value",
        P,
        "load",
        _rows({"payment_id": "TT9999999", "amount_vnd": "572000 ₫"}),
        verify=lambda frame: frame.loc[frame["payment_id"] == "TT9999999", "amount_vnd"].tolist() == [572000.0],
    ),
    Case(
        "amount not a number",
        "value",
        K,
        "quarantine",
        _rows({"total_open_amount": "n/a"}),
        "type:total_open_amount",
        1,
    ),
    Case(
        "amount in exponent form",
        "value",
        K,
        "quarantine",
        _rows({"total_open_amount": "1e5"}),
        "type:total_open_amount",
        1,
    ),
    Case(
        "amount beyond float precision",
        "value",
        K,
        "quarantine",
        _rows({"total_open_amount": "12345678901234567.89"}),
        "type:total_open_amount",
        1,
    ),
    Case(
        "negative amount",
        "value",
        K,
        "quarantine",
        _rows({"total_open_amount": "-10.00"}),
        "rule:amount_non_negative",
        1,
    ),
    # dates and codes later layers depend on
    Case(
        "invoice dated 1900", "value", K, "quarantine", _rows({"posting_date": "1900-01-03"}), "range:posting_date", 1
    ),
    Case(
        "due date beyond the calendar",
        "value",
        K,
        "quarantine",
        _rows({"due_in_date": "20990101"}),
        "range:due_in_date",
        1,
    ),
    Case(
        "currency without an FX rate",
        "value",
        K,
        "quarantine",
        _rows({"invoice_currency": "GBP"}),
        "rule:currency_has_fx_rate",
        1,
    ),
    Case(
        "currency in lower case",
        "value",
        K,
        "quarantine",
        _rows({"invoice_currency": "usd"}),
        "type:invoice_currency",
        1,
    ),
    Case(
        "date in another format",
        "value",
        K,
        "quarantine",
        _rows({"posting_date": "01/03/2020"}),
        "type:posting_date",
        1,
    ),
    Case(
        "timestamp with a T",
        "value",
        K,
        "quarantine",
        _rows({"clear_date": "2020-01-03T00:00:00", "isOpen": "0"}),
        "type:clear_date",
        1,
    ),
    Case("seven-digit YYYYMMDD", "value", K, "quarantine", _rows({"due_in_date": "2020013"}), "type:due_in_date", 1),
    Case("flag out of 0/1", "value", K, "quarantine", _rows({"isOpen": "2"}), "type:isOpen", 1),
    # rules of the sources
    Case(
        "open invoice with a clear date",
        "value",
        K,
        "quarantine",
        _rows({"isOpen": "1", "clear_date": "2020-01-03 00:00:00"}),
        "rule:open_invoice_has_no_clear_date",
        1,
    ),
    Case(
        "payment settled before it began",
        "value",
        P,
        "quarantine",
        _rows({"status": "paid", "payment_date": "2020-01-03", "settled_date": "2020-01-01"}),
        "rule:settled_not_before_initiated",
        1,
    ),
    Case(
        "payment terms out of range",
        "value",
        C,
        "quarantine",
        _rows({"payment_terms_days": "999"}),
        "rule:payment_terms_in_range",
        1,
    ),
    Case("exact duplicate row", "value", P, "load", lambda f: f.append({}, {})),
    # the same key twice in one delivery
    Case(
        "same invoice twice, different amounts",
        "value",
        K,
        "quarantine",
        _rows(
            {"doc_id": "1930999001", "total_open_amount": "130602.61"},
            {"doc_id": "1930999001", "total_open_amount": "1306026.10"},
        ),
        "conflicting_duplicate_key",
        2,
    ),
    Case(
        "same bank line twice, different amounts",
        "value",
        "bank_transactions",
        "quarantine",
        _rows(
            {"bank_txn_id": "FT9999999", "amount_vnd": "1000000"}, {"bank_txn_id": "FT9999999", "amount_vnd": "1000001"}
        ),
        "conflicting_duplicate_key",
        2,
    ),
    Case(
        "invoice posted and cleared in one delivery",
        "value",
        K,
        "load",
        _rows(
            {"doc_id": "1930999002", "isOpen": "1", "clear_date": ""},
            {"doc_id": "1930999002", "isOpen": "0", "clear_date": "2020-01-03 00:00:00"},
        ),
        verify=lambda frame: (frame["doc_id"] == 1930999002).sum() == 2,
    ),
    # plausibility (issue: due before posting was aged 44 days overdue on its posting day)
    Case(
        "due date before posting date",
        "value",
        K,
        "quarantine",
        _rows({"posting_date": "2020-01-03", "due_in_date": "20191120.0"}),
        "rule:due_not_before_posting",
        1,
    ),
    Case(
        "invoice posted after its delivery day",
        "value",
        K,
        "quarantine",
        _rows({"posting_date": "2020-01-09", "due_in_date": "20200209.0"}),
        "rule:posted_by_delivery",
        1,
    ),
    Case(
        "payment dated after its delivery day",
        "value",
        P,
        "quarantine",
        _rows({"payment_date": "2020-01-09", "settled_date": "", "status": "pending"}),
        "rule:paid_by_delivery",
        1,
    ),
]


# --- the runner --------------------------------------------------------------


def clean_world(root: Path) -> Path:
    """Every source's drops for FIRST..DAY, small."""
    config = GeneratorConfig(start=FIRST, end=DAY, customers=20, invoices_per_day=30, seed=29)
    landing = root / "landing"
    generate_sample_data(config, str(landing), world_config(config, orders_per_day=8))
    return landing


def run_case(case: Case, clean_landing: Path, work: Path) -> Outcome:
    spec = shipped_source(case.source)
    landing, lake = work / "landing", work / "lake"
    shutil.copytree(clean_landing, landing)
    list(write_window(spec, str(landing), str(lake), EARLIER, datetime.now(UTC)))
    before = _partition_hashes(spec, lake)
    folder = Folder(landing / spec.name / f"{DAY}", list(spec.base_header), _template(spec, landing))
    clean_rows = _data_rows(folder.main_file)
    case.breaks(folder)
    try:
        [counts] = write_window(spec, str(landing), str(lake), [DAY], datetime.now(UTC))
    except dg.Failure as failure:
        outcome = Outcome(case, "refused", failure.description or "")
        outcome.earlier_untouched = _partition_hashes(spec, lake) == before
        day_written = Path(partition_url(str(lake), spec.raw_table, DAY)).exists()
        return _judge(outcome, clean_rows, day_written=day_written)
    except Exception as err:
        outcome = Outcome(case, "crashed", f"{type(err).__name__}: {err}")
        outcome.problems.append(f"crashed with {type(err).__name__}, a message far from the cause")
        return outcome
    with stored_data_reader(spec, str(lake)) as con:
        checks = {c.check_name: c for c in source_checks.evaluate(con, spec.rules, DayWindow(DAY, DAY))}
        quarantine = con.execute("select rule, reason from quarantined where partition_date = ?", [DAY]).df()
        loaded = con.execute("select * from delivered where partition_date = ?", [DAY]).df()
    skipped = checks[source_checks.FILES_ACCOUNTED]
    kind = "skipped" if not skipped.passed else "quarantined" if counts.rows_quarantined else "loaded"
    message = skipped.description if kind == "skipped" else "; ".join(quarantine["rule"] + ": " + quarantine["reason"])
    outcome = Outcome(case, kind, message, counts.rows_read, counts.rows_loaded, counts.rows_quarantined)
    outcome.earlier_untouched = _partition_hashes(spec, lake) == before
    return _judge(outcome, clean_rows, quarantine=quarantine, loaded=loaded, checks=checks)


def _judge(outcome: Outcome, clean_rows: int, day_written: bool = False, quarantine=None, loaded=None, checks=None):
    case, problems = outcome.case, outcome.problems
    expected = {"load": "loaded", "quarantine": "quarantined", "refuse": "refused", "skip": "skipped"}[case.expect]
    if outcome.outcome != expected:
        problems.append(f"expected {expected}, got {outcome.outcome}: {outcome.message[:200]}")
    if not outcome.earlier_untouched:
        problems.append("an earlier day's partition changed")
    if outcome.outcome == "refused":
        if day_written:
            problems.append("a refused day was written")
        if "/" not in outcome.message or case.rule not in outcome.message:
            problems.append(f"the refusal does not name the file and {case.rule!r}: {outcome.message}")
        return outcome
    if outcome.rows_read != outcome.rows_loaded + outcome.rows_quarantined:
        problems.append(f"rows read {outcome.rows_read} != loaded + quarantined")
    if not checks[source_checks.CONSERVATION].passed:
        problems.append("row_conservation failed")
    if case.expect == "quarantine":
        wrong = quarantine[~quarantine["rule"].str.startswith(case.rule)]
        if len(quarantine) != case.broken_rows or len(wrong):
            problems.append(f"quarantined {quarantine['rule'].tolist()}, expected {case.broken_rows} x {case.rule}")
    if case.expect in ("load", "quarantine") and case.keeps_day and outcome.rows_loaded < clean_rows:
        problems.append(f"only {outcome.rows_loaded} of the day's {clean_rows} clean rows loaded")
    if case.expect == "skip" and case.rule not in outcome.message:
        problems.append(f"the warning does not name the rule {case.rule}: {outcome.message}")
    if case.verify is not None and not case.verify(loaded):
        problems.append("loaded values are not exactly the delivered ones")
    return outcome


def _template(spec: SourceSpec, landing: Path) -> dict[str, str]:
    """A valid row of the source: the first data row delivered on any day of the world."""
    for path in sorted((landing / spec.name).glob("*/*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if len(frame):
            return frame.iloc[0].to_dict()
    raise AssertionError(f"the world has no {spec.name} row")


def _data_rows(path: Path) -> int:
    return len(pd.read_csv(path, dtype=str, keep_default_na=False))


def _partition_hashes(spec: SourceSpec, lake: Path) -> dict[str, str]:
    return {
        f"{p.relative_to(lake)}": hashlib.sha256(p.read_bytes()).hexdigest()
        for day in EARLIER
        for table in (spec.raw_table, spec.quarantine_table)
        for p in [Path(partition_url(str(lake), table, day))]
    }


def run_corpus(cases: list[Case] = CASES) -> list[Outcome]:
    with tempfile.TemporaryDirectory() as root:
        clean = clean_world(Path(root))
        return [run_case(case, clean, Path(root) / f"case{i}") for i, case in enumerate(cases)]


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| case | kind | source | outcome | read = loaded + quarantined | earlier days | verdict |",
        "|---" * 7 + "|",
    ]
    for o in outcomes:
        counts = "-" if o.outcome == "refused" else f"{o.rows_read} = {o.rows_loaded} + {o.rows_quarantined}"
        verdict = "correct" if o.correct else "WRONG: " + "; ".join(o.problems)
        untouched = "untouched" if o.earlier_untouched else "CHANGED"
        lines.append(
            f"| {o.case.name} | {o.case.kind} | {o.case.source} | {o.outcome} | {counts} | {untouched} | {verdict} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    results = run_corpus()
    print(table(results))
    for o in results:
        print(f"- {o.case.name}: {o.message[:300]}")
    wrong = [o for o in results if not o.correct]
    print(f"\n{len(results)} cases, {len(results) - len(wrong)} correct, {len(wrong)} wrong")
    raise SystemExit(1 if wrong else 0)
