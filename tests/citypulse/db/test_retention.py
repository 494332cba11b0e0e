"""Raw-data retention: set only when asked, refused when the rollups cannot outlive it,
and the rollups keep what they summed after retention drops the raw data."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import TupleRow

from citypulse.cli import main
from citypulse.db import connect, load_migrations, migrate, refresh_rollups, scalar

Conn = psycopg.Connection[TupleRow]


def _retention(url: str) -> timedelta:
    with connect(url) as conn:
        value = scalar(conn, "SELECT raw_retention FROM schema_policy")
    assert isinstance(value, timedelta)
    return value


@pytest.fixture(autouse=True)
def _no_retention_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYPULSE_RETENTION_DAYS", raising=False)


def test_a_plain_migrate_keeps_the_retention_that_was_set(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", db_url, "db", "migrate", "--retention-days", "5"]) == 0
    first = capsys.readouterr().out
    assert main(["--database-url", db_url, "db", "migrate"]) == 0
    assert _retention(db_url) == timedelta(days=5)
    assert "raw retention: 5 days (changed)" in first
    assert "raw retention: 5 days (unchanged)" in capsys.readouterr().out


def test_the_environment_sets_the_retention_and_empty_means_unset(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYPULSE_RETENTION_DAYS", "40")
    assert main(["--database-url", db_url, "db", "migrate"]) == 0
    assert _retention(db_url) == timedelta(days=40)
    monkeypatch.setenv("CITYPULSE_RETENTION_DAYS", "")  # as docker-compose passes it unset
    assert main(["--database-url", db_url, "db", "migrate"]) == 0
    assert _retention(db_url) == timedelta(days=40)


# ── TimescaleDB ──────────────────────────────────────────────────────────────────────


def _jobs(conn: Conn, proc: str, tables: str = "%") -> dict[int, dict[str, Any]]:
    """This database's jobs of one policy kind on the tables named LIKE ``tables``."""
    return {
        int(job_id): dict(config)
        for job_id, config in conn.execute(
            "SELECT job_id, config FROM timescaledb_information.jobs "
            "WHERE proc_name = %s AND hypertable_name LIKE %s",
            (proc, tables),
        )
    }


def _hold_the_scheduler(conn: Conn) -> None:
    """Unschedule every policy and wait out runs under way, so that only this test's
    run_job calls refresh or drop anything."""
    conn.execute(
        "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
        "WHERE hypertable_name IS NOT NULL"
    )
    deadline = time.monotonic() + 60
    while scalar(
        conn, "SELECT count(*) FROM timescaledb_information.job_stats WHERE job_status = 'Running'"
    ):
        assert time.monotonic() < deadline, "a policy job ran for a minute"
        time.sleep(0.1)


def _run_jobs(conn: Conn, proc: str) -> None:
    for job_id in sorted(_jobs(conn, proc)):
        conn.execute("CALL run_job(%s)", (job_id,))


def _insert_ecology(conn: Conn, start: datetime, minutes: int) -> None:
    """One reading a minute from each of two stations, from ``start`` on."""
    conn.execute(
        "INSERT INTO ecology_readings (time, device_id, pm25) "
        "SELECT %s + make_interval(mins => m), d, m FROM generate_series(0, %s - 1) AS m, "
        "unnest(ARRAY['eco-1', 'eco-2']) AS d",
        (start, minutes),
    )


def _rollup_rows(conn: Conn, view: str, before: datetime) -> int:
    return int(scalar(conn, f"SELECT count(*) FROM {view} WHERE bucket < %s", (before,)))


def _hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


@pytest.mark.timescale
def test_rollups_keep_the_hours_whose_raw_data_retention_dropped(timescale_db_url: str) -> None:
    now = datetime.now(UTC)
    old = _hour(now - timedelta(days=150))
    with connect(timescale_db_url, autocommit=True) as conn:
        _hold_the_scheduler(conn)
        _insert_ecology(conn, old, 120)
        _insert_ecology(conn, _hour(now) - timedelta(hours=2), 90)
        refresh_rollups(conn)
        assert _rollup_rows(conn, "ecology_1h", old + timedelta(days=1)) == 4
        windows_before = _jobs(conn, "policy_refresh_continuous_aggregate")

        assert (
            main(["--database-url", timescale_db_url, "db", "migrate", "--retention-days", "120"])
            == 0
        )
        _run_jobs(conn, "policy_retention")
        gone = scalar(
            conn,
            "SELECT count(*) FROM ecology_readings WHERE time < %s",
            (now - timedelta(days=100),),
        )
        assert gone == 0, "retention dropped the old raw chunk"

        refresh_rollups(conn)
        _run_jobs(conn, "policy_refresh_continuous_aggregate")
        refresh_rollups(conn)
        assert _rollup_rows(conn, "ecology_1h", old + timedelta(days=1)) == 4
        recent = _hour(now) - timedelta(hours=2)
        assert scalar(conn, "SELECT count(*) FROM ecology_1m WHERE bucket >= %s", (recent,)) == 180
        # retention outlasts every refresh window, so the policies were left as they were
        assert _jobs(conn, "policy_refresh_continuous_aggregate") == windows_before


def _migrate_up_to(conn: Conn, version: int) -> None:
    chosen = [m for m in load_migrations() if m.version <= version]
    migrate(conn, mode="timescale", migrations=chosen)


@pytest.mark.timescale
def test_refresh_policies_stop_short_of_a_retention_set_before_the_check(
    empty_db_url: str, pg_server: Any
) -> None:
    """A database whose retention was set below the refresh windows before they were
    checked: migrating shortens the windows, so no policy refreshes dropped raw data."""
    if not pg_server.timescale:
        pytest.skip("TimescaleDB is not installed on the test server (marked test)")
    now = datetime.now(UTC)
    old = _hour(now - timedelta(days=40))
    with connect(empty_db_url, autocommit=True) as conn:
        _migrate_up_to(conn, 11)
        _hold_the_scheduler(conn)
        _insert_ecology(conn, old, 120)
        _insert_ecology(conn, _hour(now) - timedelta(hours=2), 60)
        for view in ("ecology_1m", "ecology_1h"):
            conn.execute("CALL refresh_continuous_aggregate(%s, NULL, NULL)", (view,))
        conn.execute("SELECT citypulse_set_retention(interval '30 days')")
        _hold_the_scheduler(conn)  # the old function re-created the retention jobs
        before = {
            v: _rollup_rows(conn, v, old + timedelta(days=1)) for v in ("ecology_1m", "ecology_1h")
        }
        assert before == {"ecology_1m": 240, "ecology_1h": 4}

        migrate(conn)
        _run_jobs(conn, "policy_retention")
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM ecology_readings WHERE time < %s",
                (old + timedelta(days=1),),
            )
            == 0
        )
        _run_jobs(conn, "policy_refresh_continuous_aggregate")
        refresh_rollups(conn)
        after = {
            v: _rollup_rows(conn, v, old + timedelta(days=1)) for v in ("ecology_1m", "ecology_1h")
        }
        offsets = {
            c["start_offset"] for c in _jobs(conn, "policy_refresh_continuous_aggregate").values()
        }
    assert after == before
    assert offsets == {"29 days"}


@pytest.mark.timescale
@pytest.mark.parametrize(
    ("argv", "env", "setting"),
    [
        (["--retention-days", "30"], {}, "--retention-days"),
        ([], {"CITYPULSE_RETENTION_DAYS": "90"}, "CITYPULSE_RETENTION_DAYS"),
    ],
    ids=["flag", "environment"],
)
def test_a_retention_the_rollups_cannot_outlive_is_refused(
    timescale_db_url: str,
    argv: Sequence[str],
    env: dict[str, str],
    setting: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with connect(timescale_db_url) as conn:
        jobs_before = conn.execute(
            "SELECT job_id, config FROM timescaledb_information.jobs ORDER BY job_id"
        ).fetchall()
    assert main(["--database-url", timescale_db_url, "db", "migrate", *argv]) == 2
    err = capsys.readouterr().err
    assert f"{setting}: must be at least 91 days" in err, err
    assert "_1h over the last 90 days" in err, err
    assert _retention(timescale_db_url) == timedelta(days=365)
    with connect(timescale_db_url, autocommit=True) as conn:
        jobs_after = conn.execute(
            "SELECT job_id, config FROM timescaledb_information.jobs ORDER BY job_id"
        ).fetchall()
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="shorter than 91 days"):
            conn.execute("SELECT citypulse_set_retention(interval '30 days')")
    assert jobs_after == jobs_before


@pytest.mark.timescale
def test_migrate_keeps_the_retention_and_its_jobs(timescale_db_url: str) -> None:
    url = timescale_db_url
    with connect(url) as conn:
        before = _jobs(conn, "policy_retention", r"%\_readings")
    assert main(["--database-url", url, "db", "migrate", "--retention-days", "200"]) == 0
    assert main(["--database-url", url, "db", "migrate"]) == 0
    assert _retention(url) == timedelta(days=200)
    with connect(url) as conn:
        after = _jobs(conn, "policy_retention", r"%\_readings")
    assert len(before) == 4
    assert set(after) == set(before), "the jobs were altered, not re-created"
    assert {c["drop_after"] for c in after.values()} == {"200 days"}
