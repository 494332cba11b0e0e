"""1-minute and 1-hour rollups equal what Python computes from the raw rows, in both modes,
including late data that arrives after a refresh."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import TupleRow

from citypulse.db import connect, refresh_rollups

Row = tuple[Any, ...]

T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def _bucket(t: datetime, width: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // width) * width


def _avg(xs: Iterable[Any]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def _camera_rows(rng: random.Random, n: int, start: datetime) -> list[Row]:
    rows = []
    for i in range(n):
        t = start + timedelta(seconds=rng.randrange(0, 3 * 3600))
        speed = None if rng.random() < 0.1 else round(rng.uniform(5, 80), 2)
        rows.append(
            (
                t,
                f"cam-{i % 3}",
                i % 2,
                rng.randrange(0, 40),
                speed,
                round(rng.random(), 3),
                round(rng.random() * 0.3, 3),
                rng.random() < 0.2,
            )
        )
    return rows


def _insert_camera(conn: psycopg.Connection[TupleRow], rows: list[Row]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO camera_readings (time, device_id, lane_id, intensity, average_vehicle_speed,"
            " occupancy, heavy_vehicle_share, congested) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT DO NOTHING",
            rows,
        )


def _expected_camera(rows: list[Row], width: timedelta) -> dict[Row, Row]:
    groups: dict[Row, list[Row]] = defaultdict(list)
    seen = set()
    for r in rows:
        key = (r[1], r[2], r[0])
        if key in seen:
            continue
        seen.add(key)
        groups[(_bucket(r[0], width), r[1])].append(r)
    out = {}
    for key, rs in groups.items():
        speeds = [r[4] for r in rs if r[4] is not None]
        out[key] = (
            len(rs),
            sum(r[3] for r in rs),
            _avg(r[4] for r in rs),
            min(speeds) if speeds else None,
            _avg(r[5] for r in rs),
            max(r[5] for r in rs),
            _avg(r[6] for r in rs),
            sum(1 for r in rs if r[7]),
        )
    return out


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-5, abs_tol=1e-5)
    return a == b


def _assert_camera(conn: psycopg.Connection[TupleRow], view: str, expected: dict[Row, Row]) -> None:
    got = {
        (r[0], r[1]): tuple(r[2:])
        for r in conn.execute(
            f"SELECT bucket, device_id, readings, intensity_sum, speed_avg, speed_min, occupancy_avg,"
            f" occupancy_max, heavy_vehicle_share_avg, congested_readings FROM {view}"
        )
    }
    assert set(got) == set(expected)
    for key, values in expected.items():
        assert all(_close(a, b) for a, b in zip(got[key], values, strict=True)), (
            key,
            got[key],
            values,
        )


def _assert_rollup(
    conn: psycopg.Connection[TupleRow],
    view: str,
    columns: str,
    rows: list[Row],
    width: timedelta,
    want: Callable[[list[Row]], Row],
) -> None:
    """``view``'s rows (``bucket, device_id, <columns>``) equal ``want`` of the raw rows
    (``time, device_id, ...``; the first of a device's duplicate times kept) in each
    bucket of ``width`` and device."""
    seen: dict[Row, Row] = {}
    for r in rows:
        seen.setdefault((r[1], r[0]), r)
    groups: dict[Row, list[Row]] = defaultdict(list)
    for r in seen.values():
        groups[(_bucket(r[0], width), r[1])].append(r)
    got = {
        (r[0], r[1]): r[2:]
        for r in conn.execute(f"SELECT bucket, device_id, {columns} FROM {view}")
    }
    assert set(got) == set(groups)
    for key, rs in groups.items():
        expected = want(rs)
        assert all(_close(a, b) for a, b in zip(got[key], expected, strict=True)), (
            key,
            got[key],
            expected,
        )


def test_camera_rollups_match_python_including_late_data(any_mode_db_url: str) -> None:
    rng = random.Random(7)
    rows = _camera_rows(rng, 1500, T0)
    with connect(any_mode_db_url, autocommit=True) as conn:
        conn.execute(
            "SELECT citypulse_ensure_partitions(%s, %s)",
            (T0 - timedelta(days=2), T0 + timedelta(hours=4)),
        )
        _insert_camera(conn, rows)
        refresh_rollups(conn)
        _assert_camera(conn, "camera_1m", _expected_camera(rows, timedelta(minutes=1)))
        _assert_camera(conn, "camera_1h", _expected_camera(rows, timedelta(hours=1)))
        # late data: a day-old batch and more rows into already-rolled-up minutes
        late = _camera_rows(rng, 300, T0 - timedelta(days=1)) + _camera_rows(rng, 300, T0)
        _insert_camera(conn, late)
        refresh_rollups(conn)
        _assert_camera(conn, "camera_1m", _expected_camera(rows + late, timedelta(minutes=1)))
        _assert_camera(conn, "camera_1h", _expected_camera(rows + late, timedelta(hours=1)))


def test_ecology_parking_traffic_light_rollups_match_python(any_mode_db_url: str) -> None:
    rng = random.Random(11)
    eco, park, tl = [], [], []
    for i in range(400):
        t = T0 + timedelta(seconds=rng.randrange(0, 2 * 3600))
        eco.append(
            (
                t,
                f"eco-{i % 2}",
                rng.uniform(0, 200),
                rng.uniform(0, 300),
                rng.uniform(0, 0.3) if i % 5 else None,
            )
        )
        park.append((t, f"park-{i % 2}", 120, rng.randrange(0, 121), rng.randrange(0, 5)))
        tl.append(
            (
                t,
                f"tl-{i % 2}",
                rng.choice(["red", "green", "yellow", "flashing_yellow", "off"]),
                rng.uniform(0, 90),
                rng.random() < 0.1,
                rng.uniform(180, 240),
            )
        )
    with connect(any_mode_db_url, autocommit=True) as conn:
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (T0, T0 + timedelta(hours=3)))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ecology_readings (time, device_id, pm25, no2, co) VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                eco,
            )
            cur.executemany(
                "INSERT INTO parking_readings (time, device_id, total_spot_number, occupied_spot_number, out_of_service_slot_number) VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                park,
            )
            cur.executemany(
                "INSERT INTO traffic_light_readings (time, device_id, phase, phase_elapsed, lamp_fault, supply_voltage) VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                tl,
            )
        refresh_rollups(conn)
        for width, suffix in ((timedelta(minutes=1), "1m"), (timedelta(hours=1), "1h")):
            _assert_rollup(
                conn,
                f"ecology_{suffix}",
                "readings, pm25_avg, pm25_max, no2_avg, co_avg, co_max",
                eco,
                width,
                lambda rs: (
                    len(rs),
                    _avg(r[2] for r in rs),
                    max(r[2] for r in rs),
                    _avg(r[3] for r in rs),
                    _avg(r[4] for r in rs),
                    max((r[4] for r in rs if r[4] is not None), default=None),
                ),
            )
            _assert_rollup(
                conn,
                f"parking_{suffix}",
                "readings, occupied_avg, occupied_max, total_spots, out_of_service_max,"
                " occupancy_avg",
                park,
                width,
                lambda rs: (
                    len(rs),
                    _avg(r[3] for r in rs),
                    max(r[3] for r in rs),
                    120,
                    max(r[4] for r in rs),
                    _avg(r[3] / 120 for r in rs),
                ),
            )
            _assert_rollup(
                conn,
                f"traffic_light_{suffix}",
                "readings, max_phase_elapsed, lamp_fault_readings, flashing_readings,"
                " dark_readings, min_supply_voltage",
                tl,
                width,
                lambda rs: (
                    len(rs),
                    max(r[3] for r in rs),
                    sum(1 for r in rs if r[4]),
                    sum(1 for r in rs if r[2] == "flashing_yellow"),
                    sum(1 for r in rs if r[2] == "off"),
                    min(r[5] for r in rs),
                ),
            )


@pytest.mark.timescale
def test_timescale_mode_has_hypertables_and_policies(timescale_db_url: str) -> None:
    with connect(timescale_db_url, autocommit=True) as conn:
        hypertables = {
            r[0]
            for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        }
        caggs = {
            r[0]
            for r in conn.execute(
                "SELECT view_name FROM timescaledb_information.continuous_aggregates"
            )
        }
        jobs = {r[0] for r in conn.execute("SELECT proc_name FROM timescaledb_information.jobs")}
    assert {
        "camera_readings",
        "ecology_readings",
        "parking_readings",
        "traffic_light_readings",
    } <= hypertables
    assert {"camera_1m", "camera_1h", "ecology_1m", "ecology_1h"} <= caggs
    assert {"policy_compression", "policy_retention", "policy_refresh_continuous_aggregate"} <= jobs


def test_the_open_hour_is_rolled_up_once_it_has_waited_five_minutes(db_url: str) -> None:
    """Plain mode: a minute is rolled up at the next refresh, its open hour only once that
    hour has been waiting 5 minutes (it used to be re-read from raw at every refresh)."""
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    rows = _camera_rows(random.Random(3), 200, hour)
    rows = [(hour + (now - hour) * (i + 1) / (len(rows) + 1), *r[1:]) for i, r in enumerate(rows)]
    with connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (hour, hour + timedelta(1)))
        _insert_camera(conn, rows)
        refresh_rollups(conn)
        _assert_camera(conn, "camera_1m", _expected_camera(rows, timedelta(minutes=1)))
        _assert_camera(conn, "camera_1h", {})
        # five minutes later (the wait is the row's own clock): the hour comes due
        conn.execute("UPDATE rollup_dirty_hours SET since = since - interval '5 minutes'")
        refresh_rollups(conn)
        _assert_camera(conn, "camera_1h", _expected_camera(rows, timedelta(hours=1)))
        assert conn.execute("SELECT count(*) FROM rollup_dirty_hours").fetchone() == (0,)


def test_a_closed_hour_still_receiving_data_waits_and_comes_due_once_quiet(db_url: str) -> None:
    """Plain mode (0025): late data that keeps arriving for a past hour (a backlog, a clock
    behind) no longer re-reads that hour from raw at every refresh; the hour is rolled up
    once a refresh brings nothing new for it, or once it has waited 5 minutes."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    rng = random.Random(11)

    def within(n: int, lo: int, hi: int) -> list[Row]:  # n rows in minutes lo..hi of hour
        return [
            (hour + timedelta(seconds=rng.randrange(lo * 60, hi * 60)), *r[1:])
            for r in _camera_rows(rng, n, hour)
        ]

    first = within(120, 0, 20)
    more = within(120, 20, 40)
    with connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (hour, hour + timedelta(1)))
        _insert_camera(conn, first)
        conn.execute("SELECT citypulse_refresh_rollups()")  # its minutes, not yet the hour
        _assert_camera(conn, "camera_1m", _expected_camera(first, timedelta(minutes=1)))
        _assert_camera(conn, "camera_1h", {})
        _insert_camera(conn, more)  # still arriving
        conn.execute("SELECT citypulse_refresh_rollups()")
        _assert_camera(conn, "camera_1h", {})
        conn.execute("SELECT citypulse_refresh_rollups()")  # nothing new: quiet, due
        _assert_camera(conn, "camera_1h", _expected_camera(first + more, timedelta(hours=1)))
        assert conn.execute("SELECT count(*) FROM rollup_dirty_hours").fetchone() == (0,)
        # data that never stops still comes due once it has waited 5 minutes
        late = within(60, 40, 50)
        _insert_camera(conn, late)
        conn.execute("SELECT citypulse_refresh_rollups()")
        conn.execute("UPDATE rollup_dirty_hours SET since = since - interval '5 minutes'")
        _insert_camera(conn, within(1, 50, 60))
        conn.execute("SELECT citypulse_refresh_rollups()")
        assert conn.execute("SELECT count(*) FROM rollup_dirty_hours").fetchone() == (0,)


def _camera_hour(conn: psycopg.Connection[TupleRow], hour: datetime) -> Row | None:
    return conn.execute(
        "SELECT readings, speed_avg, speed_readings, occupancy_avg FROM camera_1h"
        " WHERE bucket = %s AND device_id = 'cam-w'",
        (hour,),
    ).fetchone()


def _quiet_refresh(conn: psycopg.Connection[TupleRow]) -> None:
    """Refresh until the closed hours have come due (one refresh marks them, a quiet one
    rolls them up)."""
    conn.execute("SELECT citypulse_refresh_rollups()")
    conn.execute("SELECT citypulse_refresh_rollups()")


def test_an_hour_from_its_minutes_weights_each_average_by_the_readings_it_averaged(
    db_url: str,
) -> None:
    """Plain mode (0026): an hour is built from its minute rows.  Minute A averages one
    speed of three readings, minute B two of two: the hour's speed is (10 + 50 + 70) / 3,
    not the mean of the minutes' averages (35) nor their mean by readings (30)."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    a, b = hour + timedelta(minutes=3), hour + timedelta(minutes=40)
    rows = [
        (a, "cam-w", 0, 4, 10.0, 0.2, 0.1, False),
        (a + timedelta(seconds=10), "cam-w", 0, 0, None, 0.4, None, False),
        (a + timedelta(seconds=20), "cam-w", 0, 0, None, 0.6, None, False),
        (b, "cam-w", 0, 9, 50.0, 0.1, 0.2, False),
        (b + timedelta(seconds=30), "cam-w", 0, 7, 70.0, 0.3, 0.2, True),
    ]
    with connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (hour, hour + timedelta(1)))
        _insert_camera(conn, rows)
        _quiet_refresh(conn)
        got = _camera_hour(conn, hour)
        assert got is not None
        assert got[0] == 5
        assert got[1] == pytest.approx(130 / 3)
        assert got[2] == 3
        assert got[3] == pytest.approx(0.32)
        _assert_camera(conn, "camera_1h", _expected_camera(rows, timedelta(hours=1)))


def test_an_hour_whose_early_minutes_retention_dropped_is_rolled_up_from_raw(
    db_url: str,
) -> None:
    """An hour older than the minute rollups' retention has lost some minute rows: late
    data for it is rolled up from the raw readings, which still hold the whole hour."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    rows = [
        (hour + timedelta(minutes=m), "cam-w", 0, m, float(m), 0.5, 0.1, False)
        for m in range(0, 60, 6)
    ]
    late = [(hour + timedelta(minutes=59), "cam-w", 0, 1, 1.0, 0.5, 0.1, False)]
    with connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (hour, hour + timedelta(1)))
        _insert_camera(conn, rows)
        _quiet_refresh(conn)
        conn.execute("UPDATE schema_policy SET rollup_1m_retention = interval '4 hours 30 minutes'")
        conn.execute("DELETE FROM camera_1m WHERE bucket < now() - interval '4 hours 30 minutes'")
        _insert_camera(conn, late)
        _quiet_refresh(conn)
        got = _camera_hour(conn, hour)
        assert got is not None
        assert got[0] == len(rows) + 1
        _assert_camera(conn, "camera_1h", _expected_camera(rows + late, timedelta(hours=1)))


def test_hours_rolled_up_before_0026_stay_on_raw_and_later_hours_use_minutes(
    empty_db_url: str,
) -> None:
    """Upgrading a database with rollups: minute rows written before 0026 carry no counts,
    so late data for their hours is rolled up from raw; hours after the latest of them are
    built from their minutes."""
    from citypulse.db import load_migrations, migrate

    old = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    new = old + timedelta(hours=1)
    rng = random.Random(5)
    before = _camera_rows(rng, 150, old)
    before = [(old + (r[0] - old) / 3, *r[1:]) for r in before]  # within the first hour
    with connect(empty_db_url, autocommit=True) as conn:
        migrate(conn, mode="plain", migrations=[m for m in load_migrations() if m.version < 26])
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (old, old + timedelta(1)))
        _insert_camera(conn, before)
        _quiet_refresh(conn)
        migrate(conn, mode="plain")
        assert conn.execute("SELECT minute_counts_from FROM schema_policy").fetchone() == (new,)
        assert conn.execute(
            "SELECT count(*) FROM camera_1m WHERE speed_readings IS NULL"
        ).fetchone() == (len({(_bucket(r[0], timedelta(minutes=1)), r[1]) for r in before}),)
        after = [(r[0] + timedelta(hours=1), *r[1:]) for r in _camera_rows(rng, 150, old)]
        after = [(new + (r[0] - new) / 3, *r[1:]) for r in after]
        late = [(old + timedelta(minutes=59), "cam-0", 0, 3, 33.0, 0.5, 0.1, False)]
        _insert_camera(conn, after + late)
        _quiet_refresh(conn)
        _assert_camera(
            conn, "camera_1h", _expected_camera(before + after + late, timedelta(hours=1))
        )
