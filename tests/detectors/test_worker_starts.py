"""No incident from a start, restart, takeover or replay boundary; real silences still
reported, with their true duration (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from citypulse import Device, DeviceKind
from citypulse.db import connect, upsert_devices
from detectors._incidents import NullListener
from detectors._replay import replay
from detectors._worker import DetectWorker, WorkerConfig

QUIET = "cam-quiet"


def _devices() -> list[Device]:
    cams = [Device(id=f"cam-{i}", kind=DeviceKind.CAMERA, report_interval_s=60.0) for i in range(6)]
    eco = [
        Device(id=f"eco-{i}", kind=DeviceKind.ECOLOGY, report_interval_s=1200.0) for i in range(2)
    ]
    return [*cams, *eco, Device(id=QUIET, kind=DeviceKind.CAMERA, report_interval_s=60.0)]


def _store(
    db_url: str, start: datetime, end: datetime, *, quiet_until: datetime | None = None
) -> None:
    """Fault-free readings of every device in ``[start, end)``, each received a second
    after its time; the quiet camera only before ``quiet_until`` (default: throughout)."""
    cams: list[tuple[Any, ...]] = []
    eco: list[tuple[Any, ...]] = []
    for k, d in enumerate(_devices()):
        stop = quiet_until if d.id == QUIET and quiet_until is not None else end
        t = start + timedelta(seconds=(17 * k) % d.report_interval_s)
        n = 0
        while t < min(end, stop):
            n += 1
            got = t + timedelta(seconds=1)
            if d.kind is DeviceKind.CAMERA:
                cams.append((t, d.id, 1, 10 + n % 3, 50.0 + n % 5, 0.1, got))
            else:
                eco.append((t, d.id, 10.0 + n % 4, 20.0 + n % 4, got))
            t += timedelta(seconds=d.report_interval_s)
    with connect(db_url) as conn:
        cur = conn.cursor()
        cur.executemany(
            "INSERT INTO camera_readings (time, device_id, lane_id, intensity, "
            "average_vehicle_speed, occupancy, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            cams,
        )
        cur.executemany(
            "INSERT INTO ecology_readings (time, device_id, pm25, pm10, received_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            eco,
        )
        conn.execute(
            "UPDATE devices AS d SET last_seen = m.t FROM (SELECT device_id, max(time) AS t "
            "FROM (SELECT device_id, time FROM camera_readings UNION ALL "
            "SELECT device_id, time FROM ecology_readings) AS x GROUP BY 1) AS m "
            "WHERE d.id = m.device_id"
        )
        conn.commit()


def _incidents(db_url: str) -> list[tuple[Any, ...]]:
    with connect(db_url) as conn:
        return conn.execute(
            "SELECT device_id, type, value, unit, started_at FROM incidents ORDER BY 1"
        ).fetchall()


@pytest.fixture
def now(db_url: str) -> datetime:
    with connect(db_url) as conn:
        upsert_devices(conn, _devices())
        conn.commit()
    return datetime.now(UTC).replace(microsecond=0)


def _polls(db_url: str, worker_id: str, n: int = 3, lookback_s: float = 600.0) -> None:
    """A worker that claims both partitions and polls ``n`` times, then stops."""
    w = DetectWorker(
        WorkerConfig(database_url=db_url, worker_id=worker_id, partitions=2, lookback_s=lookback_s),
        listener=NullListener(),
    )
    try:
        for _ in range(n):
            w.rebalance()
            assert w.held == [0, 1]
            w.poll()
    finally:
        w.close()


def test_a_live_start_on_fault_free_data_opens_nothing(db_url: str, now: datetime) -> None:
    _store(db_url, now - timedelta(hours=2), now)
    _polls(db_url, "w")
    assert _incidents(db_url) == []


def test_a_restart_from_the_checkpoint_opens_nothing(db_url: str, now: datetime) -> None:
    _store(db_url, now - timedelta(hours=2), now - timedelta(minutes=20))
    _polls(db_url, "w", lookback_s=3 * 3600)  # it saw everything received so far
    _store(db_url, now - timedelta(minutes=20), now)  # arrived while it was down
    _polls(db_url, "w")
    assert _incidents(db_url) == []


def test_a_partition_taken_over_from_a_dead_worker_opens_nothing(
    db_url: str, now: datetime
) -> None:
    _store(db_url, now - timedelta(hours=2), now - timedelta(minutes=5))
    _polls(db_url, "dead", lookback_s=3 * 3600)
    _store(db_url, now - timedelta(minutes=5), now)
    _polls(db_url, "heir")
    assert _incidents(db_url) == []


def test_a_replay_opens_nothing_at_its_start(db_url: str, now: datetime) -> None:
    _store(db_url, now - timedelta(hours=4), now)
    report = replay(
        database_url=db_url, start=now - timedelta(hours=2), end=now, listener=NullListener()
    )
    assert report.opened == 0
    assert _incidents(db_url) == []


def test_a_device_silent_while_the_worker_runs_is_reported_for_as_long_as_it_is(
    db_url: str, now: datetime
) -> None:
    _store(db_url, now - timedelta(hours=2), now, quiet_until=now - timedelta(minutes=8))
    _polls(db_url, "w")
    [(device, itype, value, unit, _)] = _incidents(db_url)
    assert (device, itype, unit) == (QUIET, "device_silent", "s")
    assert 7 * 60 < value < 9 * 60 + 30


@pytest.mark.parametrize("by", ["live", "replay"])
def test_a_device_silent_since_before_the_start_is_reported_with_its_true_duration(
    db_url: str, now: datetime, by: str
) -> None:
    # Its last reading is 40 minutes old: before the live lookback and the replay's start.
    _store(db_url, now - timedelta(hours=3), now, quiet_until=now - timedelta(minutes=40))
    if by == "live":
        _polls(db_url, "w")
    else:
        replay(
            database_url=db_url,
            start=now - timedelta(minutes=30),
            end=now,
            listener=NullListener(),
        )
    [(device, itype, value, unit, _)] = _incidents(db_url)
    assert (device, itype, unit) == (QUIET, "device_silent", "s")
    assert 38 * 60 < value < 42 * 60


def test_an_offline_status_carries_the_silence_so_far(db_url: str, now: datetime) -> None:
    _store(db_url, now - timedelta(hours=2), now, quiet_until=now - timedelta(minutes=15))
    with connect(db_url) as conn:
        conn.execute(
            "INSERT INTO device_status (device_id, time, online, reason) "
            "VALUES (%s, %s, false, 'last_will')",
            (QUIET, now - timedelta(minutes=2)),
        )
        conn.commit()
    _polls(db_url, "w")
    [(device, itype, value, unit, _)] = _incidents(db_url)
    assert (device, itype, unit) == (QUIET, "device_silent", "s")
    assert value > 12 * 60
