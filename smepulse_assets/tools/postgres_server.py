"""A real, throwaway PostgreSQL server for the tests and the benchmark (`--instance postgres`):
initdb and pg_ctl (Debian's postgresql package, which `make test` installs) in a temporary
directory, on a free loopback port, stopped and removed afterwards."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_program(name: str) -> str:
    on_path = shutil.which(name)
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or ([on_path] if on_path else [])
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: run `make test` (it installs the postgresql package)")
    return found[-1]


def _as_server_user(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; the Debian package's `postgres` user runs them
    return [_runuser(), "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _runuser() -> str:
    # util-linux puts it in /usr/sbin, which a minimal PATH (cron, `env -i`) leaves out
    found = shutil.which("runuser", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not found:
        raise RuntimeError("runuser (util-linux) not found: PostgreSQL's server refuses to run as root without it")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server(database: str = "dagster") -> Iterator[dict[str, str]]:
    """Yields the DAGSTER_PG_* environment of a fresh server with ``database`` created."""
    root = Path(tempfile.mkdtemp(prefix="smepulse-pg-"))
    data, port = root / "data", _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")

    def run(*command):
        return subprocess.run(_as_server_user(list(command)), check=True, capture_output=True, text=True)

    try:
        run(server_program("initdb"), "-D", str(data), "-U", "smepulse", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(server_program("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        try:
            run(server_program("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "smepulse", database)
            yield {
                "DAGSTER_PG_HOST": "127.0.0.1",
                "DAGSTER_PG_PORT": str(port),
                "DAGSTER_PG_DB": database,
                "DAGSTER_PG_USER": "smepulse",
                "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
            }
        finally:
            run(server_program("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def connect(pg: dict[str, str]):
    """A psycopg2 connection to the database ``postgres_server`` yielded the environment of."""
    import psycopg2

    return psycopg2.connect(
        host=pg["DAGSTER_PG_HOST"], port=pg["DAGSTER_PG_PORT"], dbname=pg["DAGSTER_PG_DB"], user=pg["DAGSTER_PG_USER"]
    )


def database_megabytes(pg: dict[str, str]) -> float:
    """The size of the server's Dagster database (tables, indexes, TOAST), in MB."""
    with connect(pg) as connection, connection.cursor() as cursor:
        cursor.execute("select pg_database_size(current_database())")
        (size,) = cursor.fetchone()
    return round(size / 2**20, 1)
