"""The `smepulse` command: generate, replay, import, backfill, demo, ui, report, dashboard."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime, timedelta

from smepulse_assets.ingestion.header_report import ForeignFileError
from smepulse_assets.quality.rules import RulesError
from smepulse_lib.programs import ProgramNotFound, program
from smepulse_lib.settings import REPO_ROOT, Settings, apply_instance_env


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _generator_args(parser: argparse.ArgumentParser, default_days: int) -> None:
    parser.add_argument(
        "--start",
        type=_day,
        default=None,
        help="first business day (YYYY-MM-DD); default: the world ends yesterday, so the UI, the freshness "
        "checks and the backfill dialog's recent days show it (the seed keeps its shape the same)",
    )
    parser.add_argument("--days", type=int, default=default_days, help="number of days")
    parser.add_argument("--customers", type=int, default=60)
    parser.add_argument("--invoices-per-day", type=float, default=100.0)
    parser.add_argument("--orders-per-day", type=float, default=30.0, help="SME world sales orders per day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--disputed-share",
        type=float,
        default=0.0,
        help="share of invoices disputed and paid later; above 0 the files carry the optional `disputed` column",
    )
    parser.add_argument(
        "--month-end-share", type=float, default=0.0, help="share of customers paying in month-end payment runs"
    )


def _first_day(args: argparse.Namespace) -> date:
    """The given start, or the one that makes the world end yesterday (UTC, as the partitions)."""
    if args.start is not None:
        return args.start
    return datetime.now(UTC).date() - timedelta(days=args.days)


def _config(args: argparse.Namespace):
    from smepulse_assets.tools.generator import GeneratorConfig

    start = _first_day(args)
    return GeneratorConfig(
        start=start,
        end=start + timedelta(days=args.days - 1),
        customers=args.customers,
        invoices_per_day=args.invoices_per_day,
        seed=args.seed,
        disputed_share=args.disputed_share,
        month_end_share=args.month_end_share,
    )


def _world(args: argparse.Namespace):
    from smepulse_assets.tools.generator import world_config

    return world_config(_config(args), args.orders_per_day)


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from smepulse_assets.tools.generator import generate_sample_data

    if args.to_postgres:
        return _generate_into_postgres(args, settings)
    landing = args.landing or settings.landing_url
    config = _config(args)
    snapshot, world, files = generate_sample_data(config, landing, _world(args))
    if landing == settings.landing_url:
        settings.record_data_start(config.start)
    print(
        f"{len(snapshot.rows)} invoice rows, {len(world.order_lines)} order lines, {len(world.payments)} payments, "
        f"{len(world.bank_lines)} bank lines: {len(files)} daily files written under {landing}"
    )
    return 0


def _generate_into_postgres(args: argparse.Namespace, settings: Settings) -> int:
    """The SME world's sales ledger written into a PostgreSQL database, day by day."""
    import psycopg2

    from smepulse_assets.sales_db.extract import redacted
    from smepulse_assets.tools.generator import generate_world
    from smepulse_assets.tools.generator.sales_db import SalesDatabaseWriter, sales_db_changes

    world = generate_world(_world(args))
    writer = SalesDatabaseWriter(args.to_postgres, sales_db_changes(world, settings.sales_db_timezone))
    through = min(args.through or world.config.end, world.config.end)
    try:
        writer.create_schema()
        count = writer.advance(through, args.seconds_per_day, lambda day, n: print(f"{day}: {n} changes", flush=True))
    except psycopg2.Error as err:
        print(
            f"smepulse: cannot write the sales database at {redacted(args.to_postgres)}: {err}".strip(), file=sys.stderr
        )
        return 1
    settings.record_data_start(world.config.start)
    print(f"{count} changes committed to {redacted(args.to_postgres)}, written through {writer.written_through()}")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from smepulse_assets.kaggle_invoices.replay import replay_file

    landing = args.landing or settings.landing_url
    replay = replay_file(args.file, landing)
    print(f"{len(replay.files)} daily drops written under {landing}")
    _record_start(settings, landing, replay.first_day)
    if replay.unroutable_rows:
        print(
            f"{replay.unroutable_rows} rows had no readable posting_date; written to "
            "kaggle_invoices/unroutable/ for review"
        )
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from smepulse_assets.ar_import.convert import import_file
    from smepulse_assets.ar_import.mapping import load_mapping

    landing = args.landing or settings.landing_url
    done = import_file(args.file, load_mapping(args.mapping), landing)
    print(f"{done.rows} invoices imported: {len(done.files)} daily drops written under {landing}")
    for column in done.columns:
        if column.bad:
            print(column.describe())
    if done.set_aside:
        print(f"{done.set_aside} rows set aside, each with its reason: {done.set_aside_url}")
    _record_start(settings, landing, done.first_day)
    return 0


def _record_start(settings: Settings, landing: str, first_day: date | None) -> None:
    if first_day and landing == settings.landing_url:
        settings = settings.record_data_start(first_day)
        print(f"Daily partitions start on {settings.partitions_start}")


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from smepulse_assets.tools import backfill
    from smepulse_assets.tools.ui_client import UiClient, UiUnreachable

    first, last = args.start, args.end
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = [j for j in jobs if j not in backfill.JOBS]
    partitions_start = date.fromisoformat(settings.partitions_start)
    if unknown or not jobs:
        print(f"smepulse backfill: --jobs takes {', '.join(backfill.JOBS)}, not {args.jobs!r}", file=sys.stderr)
        return 2
    if not partitions_start <= first <= last:
        print(
            f"smepulse backfill: {first}..{last} is not a range of days from the partitions' start "
            f"{partitions_start} (SMEPULSE_PARTITIONS_START)",
            file=sys.stderr,
        )
        return 2
    client = UiClient(args.url)
    try:
        backfill_id = backfill.launch(client, jobs, first, last, print)
        if args.no_wait:
            return 0
        status = backfill.follow(client, backfill_id, args.timeout, print)
    except UiUnreachable as err:
        print(f"smepulse backfill: {err}; start it with .venv/bin/smepulse ui", file=sys.stderr)
        return 1
    except backfill.JobNotInUi as err:
        print(f"smepulse backfill: {err}", file=sys.stderr)
        return 1
    return 0 if status in {"COMPLETED", "COMPLETED_SUCCESS"} else 1


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from smepulse_assets.tools.demo import run_demo

    summary = run_demo(settings, _config(args), _world(args))
    # failing checks are the data's verdict and the demo shows them; a failed step is the platform's
    return 1 if summary["failures"] else 0


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    from smepulse_assets.tools.demo import prepare_dagster_home

    settings.ensure_local_dirs()
    prepare_dagster_home(settings)
    apply_instance_env()
    os.chdir(REPO_ROOT)
    # `dagster dev` runs the webserver and the daemon (sensors, schedules, the run queue)
    command = [program("dagster", "dagster"), "dev", "-w", "workspace.yaml", "-h", args.host, "-p", str(args.port)]
    os.execv(command[0], command)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    import duckdb

    try:
        return _report(args, settings)
    except duckdb.Error as error:  # no serving copy yet, or one without the scores (no ML run yet)
        print(f"smepulse report: cannot read the serving copy {settings.serving_path}: {error}", file=sys.stderr)
        return 1


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from smepulse_assets.reports.assets import REPORTS, build_report
    from smepulse_assets.reports.figures import Figures, published_days, serving_reader

    with serving_reader(settings.serving_path, settings.lake_url) as con:
        days = published_days(con)
        day = args.day or (days[0] if days else None)
        if day not in days:
            print(f"smepulse report: {day} is not in the serving copy ({settings.serving_path})", file=sys.stderr)
            return 1
        failed = False
        for report in REPORTS:
            out = f"{args.out.rstrip('/')}/{report.name}-{day}.{report.extension}" if args.out else None
            built = build_report(report, Figures(con, day), settings.lake_url, out)
            print(f"{report.name}: {built.url} ({built.size:,} bytes, {built.seconds:.1f} s)")
            for mismatch in built.mismatches:
                print(f"  does not match gold: {mismatch}", file=sys.stderr)
            failed |= bool(built.mismatches)
    return 1 if failed else 0


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    app = REPO_ROOT / "smepulse_assets" / "dashboard" / "app.py"
    command = [
        program("streamlit", "streamlit"), "run", str(app),
        "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    print(f"SME Pulse dashboard on http://{args.host}:{args.port} (serving copy {settings.serving_path})", flush=True)
    os.execv(command[0], command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smepulse", description="SME Pulse AR and cash-flow platform")
    sub = parser.add_subparsers(dest="command", required=True)

    generate = sub.add_parser(
        "generate", help="write sample daily drops of every source (Kaggle invoices and the SME world)"
    )
    _generator_args(generate, default_days=90)
    generate.add_argument("--landing", help="landing zone URL (default: SMEPULSE_LANDING_URL)")
    generate.add_argument(
        "--to-postgres",
        metavar="URL",
        help="write the SME world's B2B sales ledger (customers, invoices, lines, payments, allocations) into this "
        "PostgreSQL database instead, day by day; a later call goes on from the last day written",
    )
    generate.add_argument("--through", type=_day, help="with --to-postgres: the last day to write (default: all)")
    generate.add_argument(
        "--seconds-per-day", type=float, default=0.0, help="with --to-postgres: pause between days, to watch"
    )

    replay = sub.add_parser("replay", help="turn a whole Kaggle invoices CSV into daily drops")
    replay.add_argument("file", help="path or URL of the Kaggle CSV")
    replay.add_argument("--landing", help="landing zone URL (default: SMEPULSE_LANDING_URL)")

    imports = sub.add_parser(
        "import", help="turn an AR export of another shape into daily drops, through a mapping YAML"
    )
    imports.add_argument("file", help="path or URL of the export (CSV, one row per invoice)")
    imports.add_argument("--mapping", required=True, help="the mapping YAML (README: Bring your own data)")
    imports.add_argument("--landing", help="landing zone URL (default: SMEPULSE_LANDING_URL)")

    backfills = sub.add_parser(
        "backfill", help="submit a range of days to the running `smepulse ui`, as its backfill dialog does"
    )
    backfills.add_argument("--start", type=_day, required=True, help="first day (YYYY-MM-DD)")
    backfills.add_argument("--end", type=_day, required=True, help="last day (YYYY-MM-DD)")
    backfills.add_argument(
        "--jobs", default="daily,ml", help="daily, ml, sales_db (where configured), comma-separated (default daily,ml)"
    )
    backfills.add_argument("--url", default="http://127.0.0.1:3000", help="the UI (default http://127.0.0.1:3000)")
    backfills.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to follow it (default 6 h)")
    backfills.add_argument("--no-wait", action="store_true", help="return once it is submitted")

    demo = sub.add_parser("demo", help="generate sample data and materialize it bronze to gold")
    _generator_args(demo, default_days=90)

    ui = sub.add_parser("ui", help="start the Dagster UI on this project")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)

    report = sub.add_parser("report", help="build a day's Excel pack and HTML cash report from the serving copy")
    report.add_argument("--day", type=_day, help="the as-of day (default: the newest published)")
    report.add_argument("--out", help="folder or URL to write to (default: <lake>/reports/<name>/<day>.<ext>)")

    dashboard = sub.add_parser("dashboard", help="serve the dashboard over the serving copy")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8501)

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    handler = {
        "generate": cmd_generate,
        "replay": cmd_replay,
        "import": cmd_import,
        "backfill": cmd_backfill,
        "demo": cmd_demo,
        "ui": cmd_ui,
        "report": cmd_report,
        "dashboard": cmd_dashboard,
    }[args.command]
    try:
        return handler(args, settings)
    except ProgramNotFound as missing:
        print(f"smepulse {args.command}: {missing}", file=sys.stderr)
        return 2
    except (ForeignFileError, RulesError) as refused:  # a file or mapping that cannot be used: say why, no traceback
        print(f"smepulse {args.command}: {refused}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
