"""deploy/postgres/10-citypulse-logins.sh on a real server, then the migrations: each login
can do its job and no more (issue #9: Grafana cannot write, ingest cannot read appeals)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from citypulse.cli import main
from lab._embedded import postgres_bindir

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "10-citypulse-logins.sh"


@pytest.fixture
def logins(empty_db_url: str) -> Iterator[dict[str, str]]:
    """Run the init script, then migrate; yield a connection string per login."""
    bindir = postgres_bindir()
    assert bindir is not None, "psql is not installed"
    info = conninfo_to_dict(empty_db_url)
    suffix = uuid.uuid4().hex[:8]
    names = {"ingest": f"ingest_{suffix}", "api": f"api_{suffix}", "grafana": f"grafana_{suffix}"}
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "PGHOST": str(info.get("host", "127.0.0.1")),
        "PGPORT": str(info.get("port", 5432)),
        "POSTGRES_USER": str(info.get("user", "postgres")),
        "POSTGRES_DB": str(info["dbname"]),
        "CITYPULSE_DB_INGEST_USER": names["ingest"],
        "CITYPULSE_DB_INGEST_PASSWORD": "ingest-pw'; DROP TABLE x; --",
        "CITYPULSE_DB_API_USER": names["api"],
        "CITYPULSE_DB_API_PASSWORD": "api-pw",
        "CITYPULSE_GRAFANA_DB_USER": names["grafana"],
        "CITYPULSE_GRAFANA_DB_PASSWORD": "grafana-pw",
    }
    if "password" in info:
        env["PGPASSWORD"] = str(info["password"])
    for _ in range(2):  # a second run (by hand, later) must work too
        done = subprocess.run(
            ["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    assert main(["--database-url", empty_db_url, "db", "migrate", "--mode", "plain"]) == 0
    try:
        yield {
            role: make_conninfo(empty_db_url, user=name, password=env[pw])
            for (role, name), pw in zip(
                names.items(),
                [
                    "CITYPULSE_DB_INGEST_PASSWORD",
                    "CITYPULSE_DB_API_PASSWORD",
                    "CITYPULSE_GRAFANA_DB_PASSWORD",
                ],
                strict=True,
            )
        }
    finally:
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            for name in names.values():
                conn.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(name)))


def can(url: str, statement: str) -> bool:
    with psycopg.connect(url) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return False
        except psycopg.errors.ReadOnlySqlTransaction:
            return False
        finally:
            conn.rollback()
    return True


READ_APPEALS = "SELECT count(*) FROM appeals"
WRITE_READING = "INSERT INTO ecology_readings (device_id, time, pm25) VALUES ('eco-1', now(), 12.5)"
WRITE_INCIDENT = "UPDATE incidents SET note = 'x' WHERE false"
WRITE_DEVICE = "INSERT INTO devices (id, kind) VALUES ('eco-9', 'ecology')"


def test_each_login_does_its_job_and_no_more(logins: dict[str, str]) -> None:
    assert can(logins["ingest"], WRITE_READING)
    assert can(logins["ingest"], WRITE_DEVICE)
    assert not can(logins["ingest"], READ_APPEALS)
    assert not can(logins["ingest"], WRITE_INCIDENT)
    for heartbeat in (  # a worker's own heartbeat, and a survivor's takeover of a peer's
        "INSERT INTO ingest_sessions (client_id, login, worker, share_group, seen_at) "
        "VALUES ('citypulse-ingest-9', 'citypulse-ingest-9', 'w9', 'citypulse', now())",
        "UPDATE ingest_sessions SET claimed_by = 'citypulse-ingest-1', claimed_at = now()",
        "DELETE FROM ingest_sessions WHERE client_id = 'citypulse-ingest-9'",
    ):
        assert can(logins["ingest"], heartbeat)
    assert not can(logins["api"], "DELETE FROM ingest_sessions")
    assert can(logins["api"], READ_APPEALS)
    assert can(logins["api"], WRITE_INCIDENT)
    assert can(logins["api"], "SELECT count(*) FROM camera_1m")
    assert not can(logins["api"], WRITE_READING)
    assert can(logins["grafana"], READ_APPEALS)
    assert can(logins["grafana"], "SELECT count(*) FROM ecology_1h")
    for statement in (WRITE_READING, WRITE_INCIDENT, WRITE_DEVICE):
        assert not can(logins["grafana"], statement)
    assert not can(logins["grafana"], "SELECT contact FROM appeals")
    # Other systems' events (0015): the API records them and reads the signing secrets;
    # Grafana sees which events came, not what they said nor any secret.
    assert can(logins["api"], "INSERT INTO system_events SELECT * FROM system_events WHERE false")
    assert can(logins["api"], "SELECT signing_secret FROM api_keys")
    assert can(logins["grafana"], "SELECT source, event_id, type, appeal_id FROM system_events")
    assert not can(logins["grafana"], "SELECT payload FROM system_events")
    assert not can(logins["grafana"], "SELECT signing_secret FROM api_keys")
    assert not can(logins["ingest"], "SELECT count(*) FROM system_events")
    with psycopg.connect(logins["grafana"]) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1min",)
