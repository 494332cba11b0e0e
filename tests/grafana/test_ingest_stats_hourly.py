"""Migration 0010: ingest counters summed per worker and hour as they arrive."""

from __future__ import annotations

from citypulse.db import connect

_INSERT = (
    "INSERT INTO ingest_stats (time, worker, interval_s, received, stored, duplicates, "
    "rejected, batches, commit_ms_p99, lag_ms_p50, lag_ms_p99, queue_depth) "
    "VALUES (%s, %s, 5, %s, %s, 0, %s, 1, %s, 100, %s, %s)"
)


def test_hourly_sums_follow_inserts(db_url: str) -> None:
    with connect(db_url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                _INSERT,
                [
                    ("2026-11-25 10:00:05+00", "w1", 10, 9, 1, 4.0, 300.0, 2),
                    ("2026-11-25 10:59:55+00", "w1", 20, 20, 0, 9.0, 200.0, 7),
                    ("2026-11-25 11:00:00+00", "w1", 5, 5, 0, 1.0, 100.0, 1),
                    ("2026-11-25 10:30:00+00", "w2", 1, 1, 0, 1.0, 100.0, 0),
                ],
            )
        conn.execute(_INSERT, ("2026-11-25 10:30:00+00", "w1", 1, 1, 0, 1.0, 900.0, 0))
        rows = conn.execute(
            "SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24'), worker, intervals, interval_s, "
            "received, stored, rejected, commit_ms_p99, lag_ms_p99, queue_depth "
            "FROM ingest_stats_1h ORDER BY 2, 1"
        ).fetchall()
    assert rows == [
        ("10", "w1", 3, 15.0, 31, 30, 1, 9.0, 900.0, 7),
        ("11", "w1", 1, 5.0, 5, 5, 0, 1.0, 100.0, 1),
        ("10", "w2", 1, 5.0, 1, 1, 0, 1.0, 100.0, 0),
    ]


def test_grafanas_role_may_read_it(db_url: str) -> None:
    with connect(db_url) as conn:
        row = conn.execute(
            "SELECT has_table_privilege('citypulse_reader', 'ingest_stats_1h', 'SELECT'), "
            "has_table_privilege('citypulse_reader', 'ingest_stats_1h', 'INSERT')"
        ).fetchone()
    assert row == (True, False)
