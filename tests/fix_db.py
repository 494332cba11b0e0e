"""PostgreSQL fixtures: a real server, a migrated template, a fresh database per test.

``CITYPULSE_TEST_DATABASE_URL`` names an existing server (a URL whose user may create
databases); otherwise a private server is started on a free port (as an unprivileged
user when running as root), from the machine's newest ``/usr/lib/postgresql/*/bin`` or
from ``CITYPULSE_TEST_PG_BINDIR`` (a server tree with TimescaleDB added, for example).
The private server preloads TimescaleDB, with the workers its jobs need, when the
extension is installed there, so ``timescale`` tests run wherever it is available.  With
``CI`` set, a server that cannot be had fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from citypulse import CitypulseError
from citypulse.db import connect, migrate, scalar
from tests._procs import (
    TIMESCALEDB_CONF,
    chown_tree,
    demote,
    find_binary,
    free_port,
    initdb_command,
    run_checked,
    unprivileged_user,
    wait_for_port,
)

_PG_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)


def with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


@dataclass
class PgServer:
    """A PostgreSQL server the tests may use; ``owned`` ones can be stopped and restarted."""

    admin_url: str
    owned: bool
    datadir: Path | None = None
    port: int = 0
    bindir: str = ""
    ids: tuple[int, int] | None = None
    timescale: bool = False
    log: Path | None = None
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, dbname: str) -> str:
        return with_dbname(self.admin_url, dbname)

    def _ctl(self, *args: str) -> None:
        assert self.owned
        assert self.datadir is not None
        subprocess.run(
            [f"{self.bindir}/pg_ctl", "-D", str(self.datadir), "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
            preexec_fn=demote(self.ids),
        )

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)

    def start(self) -> None:
        self._ctl("start", "-l", str(self.log))
        wait_for_port(self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, template: str | None = None) -> str:
        name = f"cp_test_{os.getpid()}_{next(self._counter)}"
        with connect(self.admin_url, autocommit=True) as conn:
            if template:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                        psycopg.sql.Identifier(name), psycopg.sql.Identifier(template)
                    )
                )
            else:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
                )
        return name

    def seal_template(self, name: str) -> None:
        """Forbid connections, so background workers (TimescaleDB's) cannot block copies."""
        with connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL(
                    "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"
                ).format(psycopg.sql.Identifier(name))
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )

    def drop_database(self, name: str) -> None:
        ident = psycopg.sql.Identifier(name)
        with connect(self.admin_url, autocommit=True) as conn:
            if scalar(conn, "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)):
                conn.execute(psycopg.sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(ident))
            conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def _start_private_server(tmp: Path) -> PgServer:
    chosen = os.environ.get("CITYPULSE_TEST_PG_BINDIR")
    initdb = find_binary("initdb", [chosen] if chosen else _PG_DIRS)
    if initdb is None or (chosen and Path(initdb).parent != Path(chosen)):
        raise RuntimeError(f"no PostgreSQL server binaries (initdb) found in {chosen or _PG_DIRS}")
    bindir = str(Path(initdb).parent)
    ids = unprivileged_user()
    datadir = tmp / "data"
    sockdir = tmp / "sock"
    sockdir.mkdir()
    chown_tree(tmp, ids)
    run_checked(
        initdb_command(initdb, datadir),
        preexec_fn=demote(ids),
    )
    pkglib = (
        run_checked([f"{bindir}/pg_config", "--pkglibdir"]).stdout.strip()
        if Path(f"{bindir}/pg_config").exists()
        else ""
    )
    timescale = bool(pkglib) and bool(glob.glob(f"{pkglib}/timescaledb*.so"))
    port = free_port()
    conf = [
        f"port = {port}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{sockdir}'",
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "max_connections = 200",
        "shared_buffers = 256MB",
        "timezone = 'UTC'",
        "log_min_messages = warning",
    ]
    if timescale:
        conf += TIMESCALEDB_CONF
    with (datadir / "postgresql.conf").open("a") as f:
        f.write("\n".join(conf) + "\n")
    log = tmp / "postgres.log"
    server = PgServer(
        admin_url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        owned=True,
        datadir=datadir,
        port=port,
        bindir=bindir,
        ids=ids,
        timescale=timescale,
        log=log,
    )
    log.touch()
    chown_tree(tmp, ids)
    server.start()
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = os.environ.get("CITYPULSE_TEST_DATABASE_URL")
    if url:
        with connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT current_setting('shared_preload_libraries') ~ 'timescaledb'"
            ).fetchone()
        yield PgServer(admin_url=url, owned=False, timescale=bool(row and row[0]))
        return
    with tempfile.TemporaryDirectory(prefix="citypulse-pg-") as tmp:
        try:
            server = _start_private_server(Path(tmp))
        except (RuntimeError, CitypulseError, subprocess.CalledProcessError, TimeoutError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            message = f"cannot start PostgreSQL for the tests: {exc} {detail}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop("immediate")


@pytest.fixture(scope="session")
def plain_template(pg_server: PgServer) -> Iterator[str]:
    """A database migrated in plain mode, used as template for per-test databases."""
    name = pg_server.create_database()
    with connect(pg_server.url(name), autocommit=True) as conn:
        migrate(conn, mode="plain")
    pg_server.seal_template(name)
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def db_url(pg_server: PgServer, plain_template: str) -> Iterator[str]:
    """URL of a fresh, migrated (plain mode) database for this test only."""
    name = pg_server.create_database(template=plain_template)
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture
def empty_db_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh database with nothing in it."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture
def timescale_db_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database migrated in TimescaleDB mode (tests marked ``timescale``)."""
    if not pg_server.timescale:
        pytest.skip("TimescaleDB is not installed on the test server (marked test)")
    name = pg_server.create_database()
    with connect(pg_server.url(name), autocommit=True) as conn:
        migrate(conn, mode="timescale")
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture(params=["plain", pytest.param("timescale", marks=pytest.mark.timescale)])
def any_mode_db_url(request: pytest.FixtureRequest, pg_server: PgServer) -> Iterator[str]:
    """A fresh migrated database in each schema mode the server supports."""
    mode = str(request.param)
    if mode == "timescale" and not pg_server.timescale:
        pytest.skip("TimescaleDB is not installed on the test server (marked test)")
    name = pg_server.create_database()
    with connect(pg_server.url(name), autocommit=True) as conn:
        migrate(conn, mode=mode)  # type: ignore[arg-type]
    yield pg_server.url(name)
    pg_server.drop_database(name)
