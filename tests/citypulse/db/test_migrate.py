"""The migration runner: order, idempotence, checksums, failures, modes, concurrency."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from citypulse import MigrationError, SchemaModeError
from citypulse.db import connect, load_migrations, migrate, plan_migrations, scalar, schema_status
from citypulse.db._migrate import default_sql_dir


def _ledger(url: str) -> list[tuple[int, str, str]]:
    with connect(url) as conn:
        return [
            tuple(r)
            for r in conn.execute(
                "SELECT version, name, variant FROM schema_migrations ORDER BY applied_at, version"
            )
        ]


def test_applies_in_order_and_records_each(empty_db_url: str) -> None:
    with connect(empty_db_url, autocommit=True) as conn:
        report = migrate(conn, mode="plain")
    versions = [m.version for m in report.applied]
    assert versions == sorted(versions)
    assert len(versions) == len({m.version for m in load_migrations()})
    assert [v for v, _, _ in _ledger(empty_db_url)] == versions
    assert report.mode == "plain"


def test_rerun_is_a_noop(db_url: str) -> None:
    before = _ledger(db_url)
    with connect(db_url, autocommit=True) as conn:
        report = migrate(conn)
    assert report.applied == ()
    assert report.already == len(before)
    assert _ledger(db_url) == before


def test_status_reports_mode_and_nothing_pending(db_url: str) -> None:
    with connect(db_url, autocommit=True) as conn:
        status = schema_status(conn)
    assert status.mode == "plain"
    assert status.pending == ()
    assert any(p[0] == "raw_retention" for p in status.policies)


def _copy_sql(tmp_path: Path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(default_sql_dir(), target)
    return target


def test_edited_applied_migration_is_refused(empty_db_url: str, tmp_path: Path) -> None:
    sql_dir = _copy_sql(tmp_path)
    with connect(empty_db_url, autocommit=True) as conn:
        migrate(conn, mode="plain", migrations=load_migrations(sql_dir))
        core = sql_dir / "0001_core.sql"
        core.write_text(core.read_text() + "\n-- an innocent-looking edit\n")
        with pytest.raises(MigrationError, match=r"0001_core\.sql was edited") as info:
            migrate(conn, migrations=load_migrations(sql_dir))
    assert info.value.version == 1


def test_failure_stops_and_rolls_back_that_migration(empty_db_url: str, tmp_path: Path) -> None:
    sql_dir = _copy_sql(tmp_path)
    (sql_dir / "0900_broken.sql").write_text(
        "CREATE TABLE half_done (x int);\nSELECT no_such_function();\n"
    )
    (sql_dir / "0901_after.sql").write_text("CREATE TABLE never_reached (x int);\n")
    with connect(empty_db_url, autocommit=True) as conn:
        with pytest.raises(MigrationError, match=r"0900_broken\.sql failed") as info:
            migrate(conn, mode="plain", migrations=load_migrations(sql_dir))
        assert info.value.version == 900
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class WHERE relname IN ('half_done', 'never_reached')"
            )
        }
    assert tables == set()
    versions = [v for v, _, _ in _ledger(empty_db_url)]
    assert 900 not in versions
    assert 901 not in versions
    assert 1 in versions  # everything before the failure stays applied


def test_missing_applied_file_is_refused(db_url: str, tmp_path: Path) -> None:
    sql_dir = _copy_sql(tmp_path)
    (sql_dir / "0003_readings_comments.sql").unlink()
    with (
        connect(db_url, autocommit=True) as conn,
        pytest.raises(MigrationError, match="no such file"),
    ):
        migrate(conn, migrations=load_migrations(sql_dir))


def test_bad_file_names_and_half_pairs_are_refused(tmp_path: Path) -> None:
    sql_dir = _copy_sql(tmp_path)
    (sql_dir / "0902_only_plain.plain.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="needs both"):
        plan_migrations(load_migrations(sql_dir), "plain")
    (sql_dir / "0902_only_plain.plain.sql").unlink()
    (sql_dir / "7_short.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="name must be"):
        load_migrations(sql_dir)


def test_recorded_mode_wins_over_a_different_request(db_url: str) -> None:
    with (
        connect(db_url, autocommit=True) as conn,
        pytest.raises(SchemaModeError, match="plain mode"),
    ):
        migrate(conn, mode="timescale")


def test_timescale_request_without_extension_is_refused(
    empty_db_url: str, pg_server: object
) -> None:
    if getattr(pg_server, "timescale", False):
        pytest.skip("this server has TimescaleDB; the refusal path needs one without")
    with (
        connect(empty_db_url, autocommit=True) as conn,
        pytest.raises(SchemaModeError, match="not installed"),
    ):
        migrate(conn, mode="timescale")


def test_concurrent_runners_apply_each_migration_once(empty_db_url: str) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with connect(empty_db_url, autocommit=True) as conn:
                migrate(conn, mode="plain")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = [v for v, _, _ in _ledger(empty_db_url)]
    assert len(versions) == len(set(versions)) == len({m.version for m in load_migrations()})


def test_migration_needs_autocommit(empty_db_url: str) -> None:
    with connect(empty_db_url) as conn, pytest.raises(MigrationError, match="autocommit"):
        migrate(conn)


def test_both_mode_variants_define_the_same_objects() -> None:
    """Each mode pair creates the same tables and functions (names), so queries stay portable."""
    import re

    pairs: dict[int, dict[str, str]] = {}
    for m in load_migrations():
        if m.variant != "common":
            pairs.setdefault(m.version, {})[m.variant] = m.sql
    assert pairs, "expected mode-specific migrations"
    pattern = re.compile(r"CREATE (?:TABLE|MATERIALIZED VIEW|VIEW|FUNCTION) (\w+)", re.I)
    for version, variants in pairs.items():
        plain = set(pattern.findall(variants["plain"]))
        timescale = set(pattern.findall(variants["timescale"]))
        shared = {
            n
            for n in plain
            if not n.startswith(("citypulse_rollup_", "rollup_dirty", "citypulse_mark"))
        }
        assert shared <= timescale, (version, shared - timescale)


def test_readings_columns_carry_units(db_url: str) -> None:
    with connect(db_url) as conn:
        rows = conn.execute(
            """SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
               WHERE c.relname IN ('camera_readings', 'ecology_readings', 'parking_readings',
                                   'traffic_light_readings')
                 AND a.attnum > 0 AND NOT a.attisdropped
                 AND a.attname NOT IN ('time', 'device_id', 'received_at')"""
        ).fetchall()
    missing = [(t, c) for t, c, d in rows if not d]
    assert rows
    assert missing == []
    ecology = {c: d for t, c, d in rows if t == "ecology_readings"}
    assert "µg/m³" in ecology["pm25"]
    assert "mg/m³" in ecology["co"]
    assert "dB(A)" in ecology["laeq"]


def test_partitions_are_created_for_any_day(db_url: str) -> None:
    with connect(db_url) as conn:
        created = scalar(
            conn, "SELECT citypulse_ensure_partitions('2026-01-01', '2026-01-03 12:00')"
        )
        again = scalar(conn, "SELECT citypulse_ensure_partitions('2026-01-01', '2026-01-03 12:00')")
        conn.execute(
            "INSERT INTO ecology_readings (time, device_id, pm25) VALUES ('2026-01-02 10:00+00', 'e1', 5)"
        )
        stored = scalar(conn, "SELECT count(*) FROM ecology_readings")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO traffic_light_readings (time, device_id, phase) "
                "VALUES ('2026-01-02 10:00+00', 't', 'purple')"
            )
    assert stored == 1
    assert created == 4 * 3
    assert again == 0


def test_expired_partitions_are_dropped_by_maintain(db_url: str) -> None:
    with connect(db_url, autocommit=True) as conn:
        conn.execute(
            "SELECT citypulse_ensure_partitions(now() - interval '40 days', now() - interval '38 days')"
        )
        conn.execute(
            "INSERT INTO parking_readings (time, device_id, occupied_spot_number) "
            "VALUES (now() - interval '39 days', 'p1', 3), (now(), 'p1', 4)"
        )
        conn.execute("SELECT citypulse_set_retention(interval '30 days')")
        result = scalar(conn, "SELECT citypulse_maintain()")
        left = scalar(conn, "SELECT count(*) FROM parking_readings")
    assert result["partitions_dropped"] >= 4
    assert left == 1


def test_two_databases_migrated_at_once_on_a_fresh_server_both_get_their_roles() -> None:
    """Roles are the server's: the advisory lock does not serialise two databases, so a
    migration that finds a role missing can lose the race to create it.  Here the race is
    held open: another session creates the first role of 0005 and waits, uncommitted,
    until the runner is blocked behind it; then commits.  The runner's CREATE ROLE then
    fails on pg_authid's unique index; it runs 0005 again and finds the role."""
    import os
    import tempfile
    import time

    from lab._embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="citypulse-roles-") as d:
        os.chmod(d, 0o755)
        pg = EmbeddedPostgres(Path(d) / "pg").start()
        try:
            with psycopg.connect(pg.url, autocommit=True) as admin:
                admin.execute("CREATE DATABASE racer")
            with (
                psycopg.connect(pg.url) as other,
                psycopg.connect(pg.url, autocommit=True) as watch,
            ):
                other.execute("CREATE ROLE citypulse_ingest NOLOGIN")  # left uncommitted
                failure: list[BaseException] = []

                def run() -> None:
                    try:
                        with connect(pg.database_url("racer"), autocommit=True) as conn:
                            migrate(conn, mode="plain")
                    except BaseException as exc:
                        failure.append(exc)

                runner = threading.Thread(target=run)
                runner.start()
                deadline = time.monotonic() + 30
                while not watch.execute(  # its own snapshot of the activity each time
                    "SELECT 1 FROM pg_stat_activity "
                    "WHERE datname = 'racer' AND wait_event_type = 'Lock'"
                ).fetchone():
                    assert time.monotonic() < deadline, "the runner never reached CREATE ROLE"
                    assert runner.is_alive(), failure
                    time.sleep(0.05)
                other.commit()
                runner.join(60)
            assert not failure, failure
            with connect(pg.database_url("racer")) as conn:
                assert scalar(conn, "SELECT count(*) FROM schema_migrations") == len(
                    plan_migrations(load_migrations(), "plain")
                )
                assert (
                    scalar(
                        conn,
                        "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, 'citypulse_')",
                    )
                    >= 4
                )
        finally:
            pg.stop()
