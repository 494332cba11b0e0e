"""The detect worker against a real PostgreSQL: partitions, restarts, replay, silence."""

from __future__ import annotations

import gc
import math
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from citypulse import Device, DeviceKind
from citypulse.db import connect, upsert_devices
from detectors._city import CityConfig
from detectors._incidents import NullListener
from detectors._replay import replay
from detectors._rows import LIVE, CameraRow, SourceQuery, SourceRow, StatusRow
from detectors._worker import (
    DetectWorker,
    Engine,
    PartitionState,
    WorkerConfig,
    events_from_rows,
    partition_of,
    receipt_clock,
    wall_receipt,
)
from tests._proxy import TcpProxy
from tests.detectors.test_incidents import Recorder

EPISODE = 21  # steps of 60 s: 3 lamp-fault reports, then normal past resolve and cooldown


def _lights(n: int) -> list[Device]:
    return [Device(id=f"tl-{i:02d}", kind=DeviceKind.TRAFFIC_LIGHT) for i in range(n)]


def _register(db_url: str, devices: list[Device]) -> None:
    with connect(db_url) as conn:
        upsert_devices(conn, devices)
        conn.commit()


def _insert_step(db_url: str, devices: list[Device], t0: datetime, step: int) -> None:
    """One report per device at ``t0 + step`` minutes; a lamp fault in each episode's
    first three steps."""
    fault = step % EPISODE < 3
    t = t0 + timedelta(minutes=step)
    with connect(db_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO traffic_light_readings (time, device_id, phase, lamp_fault) "
            "VALUES (%s, %s, %s, %s)",
            [(t, d.id, "red" if step % 2 else "green", fault) for d in devices],
        )
        conn.commit()


def _incidents(db_url: str) -> list[tuple[Any, ...]]:
    with connect(db_url) as conn:
        return conn.execute(
            "SELECT device_id, type, started_at, status, worker FROM incidents ORDER BY 1, 3"
        ).fetchall()


def _wait(predicate: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _config(db_url: str, worker: str, **kw: Any) -> WorkerConfig:
    return WorkerConfig(database_url=db_url, worker_id=worker, poll_s=0.1, rebalance_s=0.3, **kw)


@pytest.fixture
def t0() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


class Running:
    def __init__(self, worker: DetectWorker) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:
            self.error = exc


@pytest.fixture
def start_worker() -> Iterator[Any]:
    running: list[Running] = []

    def start(config: WorkerConfig) -> Running:
        r = Running(DetectWorker(config, listener=NullListener()))
        r.thread.start()
        running.append(r)
        return r

    yield start
    for r in running:
        r.worker.stop()
    for r in running:
        r.thread.join(timeout=20)
        r.worker.close()
        assert r.error is None, r.error


def _two_workers(db_url: str, devices: list[Device], start_worker: Any) -> tuple[Running, Running]:
    """Register ``devices`` and start workers wa and wb sharing four partitions."""
    _register(db_url, devices)
    a = start_worker(_config(db_url, "wa", partitions=4, lookback_s=6 * 3600))
    b = start_worker(_config(db_url, "wb", partitions=4, lookback_s=6 * 3600))
    assert _wait(lambda: len(a.worker.held) + len(b.worker.held) == 4 and b.worker.held)
    return a, b


def test_sql_and_python_agree_on_partitions(db_url: str) -> None:
    ids = [f"dev-{i}" for i in range(200)]
    with connect(db_url) as conn:
        rows = conn.execute(
            "SELECT id, citypulse_partition(id, 7) FROM unnest(%s::text[]) AS id", (ids,)
        ).fetchall()
    assert {r[0]: r[1] for r in rows} == {i: partition_of(i, 7) for i in ids}
    assert len({r[1] for r in rows}) == 7


def test_two_workers_split_the_partitions_without_duplicates(
    db_url: str, t0: datetime, start_worker: Any
) -> None:
    devices = _lights(16)
    a, b = _two_workers(db_url, devices, start_worker)
    assert not set(a.worker.held) & set(b.worker.held)
    for step in range(EPISODE + 3):
        _insert_step(db_url, devices, t0, step)
    assert _wait(lambda: len(_incidents(db_url)) == 2 * len(devices))
    time.sleep(1.0)  # nothing more may come
    rows = _incidents(db_url)
    assert len(rows) == 2 * len(devices)
    assert len({(r[0], r[2]) for r in rows}) == len(rows)
    # Each device was handled by the one worker holding its partition.
    owner = dict.fromkeys(a.worker.held, "wa") | dict.fromkeys(b.worker.held, "wb")
    for device_id, _, _, _, worker in rows:
        assert worker == owner[partition_of(device_id, 4)]
    assert {r[4] for r in rows} == {"wa", "wb"}


def test_a_dead_workers_partitions_are_taken_over(
    db_url: str, t0: datetime, start_worker: Any
) -> None:
    devices = _lights(8)
    a, b = _two_workers(db_url, devices, start_worker)
    b.worker.stop()
    b.thread.join(timeout=20)
    b.worker.close()  # its session ends: its locks are released
    assert _wait(lambda: len(a.worker.held) == 4)
    for step in range(5):
        _insert_step(db_url, devices, t0, step)
    assert _wait(lambda: len(_incidents(db_url)) == len(devices))
    assert {r[4] for r in _incidents(db_url)} == {"wa"}


def test_silence_fires_with_no_data_at_all(db_url: str, start_worker: Any) -> None:
    quiet, chatty = (
        Device(id="cam-quiet", kind=DeviceKind.CAMERA, report_interval_s=1.0),
        Device(id="cam-chatty", kind=DeviceKind.CAMERA, report_interval_s=60.0),
    )
    _register(db_url, [quiet, chatty])
    # a second's interval without the 30-s floor: the test waits seconds, not minutes
    start_worker(_config(db_url, "w", partitions=2, city=CityConfig(silence_min_s=0.0)))
    now = datetime.now(UTC)
    with connect(db_url) as conn:
        for d in (quiet, chatty):
            conn.execute(
                "INSERT INTO camera_readings (time, device_id, intensity) VALUES (%s, %s, 5)",
                (now, d.id),
            )
        conn.execute("UPDATE devices SET last_seen = now()")
        conn.commit()
    # Keep one device (and so the store) alive; the other says nothing more.
    deadline = time.monotonic() + 30
    found = False
    while time.monotonic() < deadline and not found:
        with connect(db_url) as conn:
            conn.execute(
                "INSERT INTO camera_readings (time, device_id, intensity) VALUES (now(), %s, 5)",
                (chatty.id,),
            )
            conn.execute("UPDATE devices SET last_seen = now() WHERE id = %s", (chatty.id,))
            conn.commit()
        found = any(r[0] == quiet.id and r[1] == "device_silent" for r in _incidents(db_url))
        time.sleep(0.3)
    assert found
    assert [r[:2] for r in _incidents(db_url)] == [(quiet.id, "device_silent")]


def test_a_device_whose_data_comes_late_is_not_silent(db_url: str, start_worker: Any) -> None:
    """One device's readings arrive steadily, each five minutes after it was taken (its
    gateway, publisher or broker queue behind the rest): it is not silent, while the
    device that stops is.  On the capped clock alone the late one was silent as soon as
    the others' readings were newer than its own."""
    late, chatty, quiet = (
        Device(id=f"cam-{name}", kind=DeviceKind.CAMERA, report_interval_s=1.0)
        for name in ("late", "chatty", "quiet")
    )
    _register(db_url, [late, chatty, quiet])
    start_worker(_config(db_url, "w", partitions=2, city=CityConfig(silence_min_s=0.0)))
    insert = "INSERT INTO camera_readings (time, device_id, intensity) VALUES (%s, %s, 5)"
    seen = "UPDATE devices SET last_seen = GREATEST(last_seen, %s) WHERE id = %s"

    def report(conn: psycopg.Connection[Any], device: Device, behind_s: float) -> None:
        t = datetime.now(UTC) - timedelta(seconds=behind_s)
        conn.execute(insert, (t, device.id))
        conn.execute(seen, (t, device.id))

    with connect(db_url) as conn:
        for device, behind in ((quiet, 0.0), (chatty, 0.0), (late, 300.0)):
            report(conn, device, behind)
        conn.commit()
    deadline = time.monotonic() + 30
    quiet_at = None
    # Go on two seconds past the quiet device's incident: the late one had its chance.
    while time.monotonic() < deadline and (quiet_at is None or time.monotonic() < quiet_at + 2):
        with connect(db_url) as conn:
            report(conn, chatty, 0.0)
            report(conn, late, 300.0)
            conn.commit()
        if quiet_at is None and any(r[0] == quiet.id for r in _incidents(db_url)):
            quiet_at = time.monotonic()
        time.sleep(0.3)
    assert quiet_at is not None
    assert [r[:2] for r in _incidents(db_url)] == [(quiet.id, "device_silent")]


_CAMERAS: Final = next(s for s in LIVE if s.record is CameraRow)
_STATUS: Final = next(s for s in LIVE if s.record is StatusRow)


def _camera(device: str, t: float, received: float) -> CameraRow:
    return CameraRow(device, t, 1, 5, 40.0, 0.1, 0.05, received)


def test_receipt_clock_is_the_newest_reading_received_by_then() -> None:
    rows: dict[SourceQuery, list[SourceRow]] = {
        _CAMERAS: [_camera("a", 100.0, 5.0), _camera("b", 40.0, 5.0), _camera("b", 50.0, 6.0)],
        # a receiver's time (a will, say) is not the data's
        _STATUS: [StatusRow("a", 9_999.0, False, "last_will", 6.0)],
    }
    assert receipt_clock(rows, 120.0) == ({5.0: 120.0, 6.0: 120.0}, 120.0)
    assert receipt_clock(rows, 0.0) == ({5.0: 100.0, 6.0: 100.0}, 100.0)
    rows[_CAMERAS].append(_camera("a", 110.0, 7.0))
    assert receipt_clock(rows, 0.0) == ({5.0: 100.0, 6.0: 100.0, 7.0: 110.0}, 110.0)
    # on the wall's clock the receipt time is the clock
    assert wall_receipt(7.0, 5.0) == 7.0


def test_data_clock_judges_each_device_by_the_lag_its_data_arrives_with() -> None:
    """A simulation on the data's clock, ten times faster than real time: device "b" is
    ten minutes behind "a" (its publisher fell behind), both report every 10 s, and "a"
    its status too.  While b's readings go on arriving it is not silent; once they stop,
    it is, after its silence limit in arrival time."""
    devices = {d: Device(id=d, kind=DeviceKind.CAMERA, report_interval_s=10.0) for d in "ab"}
    engine = Engine(CityConfig(), devices)
    state = PartitionState(0, 0.0)
    newest = -math.inf
    silent: dict[str, float] = {}
    t0 = 1_800_000_000.0

    def poll(wall: float, rows: list[SourceRow]) -> None:
        nonlocal newest
        # a status of "a" arriving after the readings: a tick at its time judges b by
        # the clock the readings gave, statuses do not set one
        status = StatusRow("a", rows[0].time + 10.0, True, "status", wall + 0.5)
        by_source: dict[SourceQuery, list[SourceRow]] = {_CAMERAS: rows, _STATUS: [status]}
        receipt, newest = receipt_clock(by_source, newest)
        engine.feed(state, events_from_rows(by_source), newest, wall=newest, receipt=receipt.get)
        for action in state.trackers.take():
            if action.type.value == "device_silent":
                silent.setdefault(action.device_id, wall)
        state.trackers.saved()

    for step in range(120):  # 1 s of wall, 10 s of data each
        wall = float(step)
        poll(wall, [_camera("a", t0 + 10 * step, wall), _camera("b", t0 + 10 * step - 600, wall)])
    assert silent == {}
    for step in range(120, 150):  # b stops
        wall = float(step)
        poll(wall, [_camera("a", t0 + 10 * step, wall)])
    assert set(silent) == {"b"}
    # 3 intervals (30 s of data, 3 s of wall) and a second alarm: on the data's clock b
    # was silent from its stop, not ten minutes before it
    assert 122.0 <= silent["b"] <= 126.0


def test_replay_finds_history_and_a_second_replay_adds_nothing(db_url: str, t0: datetime) -> None:
    devices = _lights(3)
    _register(db_url, devices)
    for step in range(3 * EPISODE):
        _insert_step(db_url, devices, t0, step)
    end = t0 + timedelta(minutes=3 * EPISODE)
    first = replay(database_url=db_url, start=t0, end=end, listener=NullListener())
    assert first.opened == 9
    assert first.readings == 3 * 3 * EPISODE
    second = replay(database_url=db_url, start=t0, end=end, listener=NullListener())
    assert second.opened == 0
    assert second.adopted == 9
    rows = _incidents(db_url)
    assert len(rows) == 9
    assert all(r[1] == "lamp_fault" for r in rows)


def test_replay_from_the_command_line_shows_progress(db_url: str, t0: datetime) -> None:
    devices = _lights(2)
    _register(db_url, devices)
    for step in range(EPISODE):
        _insert_step(db_url, devices, t0, step)
    end = t0 + timedelta(minutes=EPISODE)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "citypulse.cli",
            "--database-url",
            db_url,
            "detect",
            "--listener",
            "none",
            "--from",
            t0.isoformat(),
            "--to",
            end.isoformat(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "100.0%" in proc.stderr
    assert "2 incidents opened" in proc.stdout
    assert len(_incidents(db_url)) == 2


@pytest.mark.faults
@pytest.mark.slow
def test_sigkill_mid_stream_then_restart_misses_nothing_and_repeats_nothing(
    db_url: str, t0: datetime
) -> None:
    devices = _lights(10)
    _register(db_url, devices)
    episodes = 4
    steps = episodes * EPISODE

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "citypulse.cli",
                "--database-url",
                db_url,
                "--log-level",
                "WARNING",
                "detect",
                "--partitions",
                "3",
                "--poll",
                "0.1",
                "--lookback",
                str(6 * 3600),
                "--listener",
                "none",
                "--worker-id",
                "victim",
            ],
        )

    proc = start()
    try:
        for step in range(steps):
            _insert_step(db_url, devices, t0, step)
            time.sleep(0.03)
            if step == steps // 2:
                assert _wait(lambda: len(_incidents(db_url)) >= len(devices), 30)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                proc = start()
        expected = episodes * len(devices)
        assert _wait(
            lambda: sum(1 for r in _incidents(db_url) if r[3] == "resolved") == expected, 90
        )
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    rows = _incidents(db_url)
    assert len(rows) == expected
    for d in devices:
        starts = [r[2] for r in rows if r[0] == d.id]
        assert starts == [t0 + timedelta(minutes=e * EPISODE + 1) for e in range(episodes)]


_STORED = (
    "SELECT id, type, device_id, severity, status, started_at, last_alarm_at, resolved_at, "
    "alarms, evidence FROM incidents ORDER BY id"
)


def _stored(db_url: str) -> list[tuple[Any, ...]]:
    with connect(db_url) as conn:
        return conn.execute(_STORED).fetchall()


def _checkpoint(db_url: str) -> tuple[Any, ...] | None:
    with connect(db_url) as conn:
        return conn.execute(
            "SELECT watermark, saved_at, worker FROM detector_checkpoints WHERE partitions = 1"
        ).fetchone()


def test_a_successor_re_deriving_from_an_older_checkpoint_changes_nothing_committed(
    db_url: str, t0: datetime
) -> None:
    """A worker that checkpoints rarely is killed long after its last checkpoint; the
    successor re-reads and re-derives everything since, and the stored incidents (alarm
    counts included) stay as they were, with no listener call."""
    devices = _lights(4)
    _register(db_url, devices)
    for step in (0, 1):  # its first poll opens an incident per device and checkpoints it
        _insert_step(db_url, devices, t0, step)
    proc = subprocess.Popen(
        [sys.executable, "-m", "citypulse.cli", "--database-url", db_url, "--log-level",
         "WARNING", "detect", "--partitions", "1", "--poll", "0.1", "--lookback",
         str(6 * 3600), "--listener", "none", "--worker-id", "rare",
         "--checkpoint-every", "3600"],
    )  # fmt: skip
    try:
        assert _wait(lambda: _checkpoint(db_url) is not None, 30)  # its first poll saves
        first = _checkpoint(db_url)
        for step in range(2, EPISODE + 4):
            _insert_step(db_url, devices, t0, step)
        # two episodes per device: the first resolved, the second open
        assert _wait(lambda: [r[4] for r in _stored(db_url)].count("open") == len(devices), 60)
        time.sleep(1.0)  # its alarms of the last steps are committed too
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    before = _stored(db_url)
    assert len(before) == 2 * len(devices)
    assert min(r[8] for r in before) >= 2  # counts that a replay would double
    assert _checkpoint(db_url) == first  # nothing saved since: the successor re-derives
    listener = Recorder()
    # A step per poll, as a busy worker would: a replayed alarm is an update of its own.
    config = _config(
        db_url, "successor", partitions=1, limit=2 * len(devices), overlap_s=0.0,
        lookback_s=6 * 3600,
    )  # fmt: skip
    successor = DetectWorker(config, listener=listener)
    try:
        successor.rebalance()
        assert successor.held == [0]
        for _ in range(EPISODE + 6):
            successor.poll()
    finally:
        successor.close()
    assert _stored(db_url) == before
    assert listener.calls == []
    assert successor.store.counts.adopted >= len(devices)  # it did re-derive them
    saved = _checkpoint(db_url)
    assert saved is not None
    assert first is not None
    assert saved[0] > first[0]


def test_a_worker_checkpoints_on_its_budget_and_when_it_stops(db_url: str, t0: datetime) -> None:
    devices = _lights(2)
    _register(db_url, devices)
    _insert_step(db_url, devices, t0, 0)
    w = DetectWorker(
        _config(db_url, "w", partitions=1, lookback_s=6 * 3600, checkpoint_s=3600),
        listener=NullListener(),
    )
    try:
        w.rebalance()
        w.poll()
        first = _checkpoint(db_url)
        assert first is not None
        assert w.stats.checkpoints == 1
        for step in (1, 2, 3):
            _insert_step(db_url, devices, t0, step)
            assert w.poll() > 0
        assert _checkpoint(db_url) == first  # changed, but not due
    finally:
        w.close()
    last = _checkpoint(db_url)
    assert last is not None
    assert last[0] > first[0]
    assert w.stats.checkpoints == 2
    every = DetectWorker(
        _config(db_url, "every", partitions=1, checkpoint_s=0), listener=NullListener()
    )
    try:
        every.rebalance()
        for step in (4, 5):
            _insert_step(db_url, devices, t0, step)
            every.poll()
            saved = _checkpoint(db_url)
            assert saved is not None
            assert saved[2] == "every"
            assert saved[0] > last[0]
            last = saved
    finally:
        every.close()


def test_a_checkpoint_is_stored_compressed_with_lz4(db_url: str, t0: datetime) -> None:
    # 0024: pglz took 108 ms of PostgreSQL's CPU per 9.7 MB save and kept 1.09 MB; lz4
    # 25 ms and 0.27 MB (the server here is built with lz4, as Debian's and the image's)
    devices = _lights(40)
    _register(db_url, devices)
    _insert_step(db_url, devices, t0, 0)
    w = DetectWorker(_config(db_url, "w", partitions=1), listener=NullListener())
    try:
        w.rebalance()
        w.poll()
    finally:
        w.close()
    with connect(db_url) as conn:
        row = conn.execute(
            "SELECT length(state), pg_column_size(state), pg_column_compression(state) "
            "FROM detector_checkpoints WHERE partitions = 1"
        ).fetchone()
    assert row is not None
    size, stored, method = row
    assert size > 8192  # past the TOAST threshold, where compression begins
    assert method == "lz4"
    assert stored < size


def test_a_backlog_read_in_chunks_without_overlap_skips_no_arrival(
    db_url: str, t0: datetime
) -> None:
    """Each poll stops before the arrival that filled its limit; the next must read that
    arrival, not start after it (it used to: every other step was lost)."""
    devices = _lights(3)
    _register(db_url, devices)
    steps = 8
    for step in range(steps):
        _insert_step(db_url, devices, t0, step)
    config = _config(
        db_url, "w", partitions=1, limit=2 * len(devices), overlap_s=0.0, lookback_s=6 * 3600
    )
    w = DetectWorker(config, listener=NullListener())
    try:
        w.rebalance()
        for _ in range(2 * steps):
            w.poll()
        assert w.stats.readings == steps * len(devices)
    finally:
        w.close()


def test_a_late_commit_is_read_back_to_what_ingest_has_not_committed(
    db_url: str, t0: datetime
) -> None:
    """Ingest commits out of receipt order; a poll re-reads from the oldest receipt time an
    ingest worker still holds (ingest_progress, sql/0027), not only ``overlap_s``: a
    reading received 20 s before the watermark and committed now is processed.  Without
    the ingest worker's word it is not (the fixed overlap alone used to decide)."""
    devices = _lights(2)
    _register(db_url, devices)
    w = DetectWorker(
        _config(db_url, "w", partitions=1, lookback_s=6 * 3600), listener=NullListener()
    )

    def insert(device: str, minute: int, received_ago: float | None) -> None:
        with connect(db_url) as conn:
            conn.execute(
                "INSERT INTO traffic_light_readings (time, device_id, phase, received_at)"
                " VALUES (%s, %s, 'red', now() - make_interval(secs => %s))",
                (t0 + timedelta(minutes=minute), device, received_ago or 0.0),
            )
            conn.commit()

    def progress(ago: float) -> None:
        with connect(db_url) as conn:
            conn.execute(
                "INSERT INTO ingest_progress (client_id, committed_through)"
                " VALUES ('ingest-1', now() - make_interval(secs => %s))"
                " ON CONFLICT (client_id) DO UPDATE SET"
                " committed_through = excluded.committed_through, updated_at = now()",
                (ago,),
            )
            conn.commit()

    try:
        w.rebalance()
        insert("tl-00", 0, None)
        insert("tl-01", 0, None)
        w.poll()
        assert w.stats.readings == 2
        insert("tl-00", 1, None)  # the watermark moves on to now
        w.poll()
        assert w.stats.readings == 3
        insert("tl-01", 1, 20.0)  # received 20 s ago, committed only now
        w.poll()
        w.poll()
        assert w.stats.readings == 3  # before the watermark's overlap: not seen
        progress(25.0)  # an ingest worker still holds what it received 25 s ago
        insert("tl-01", 2, 20.0)
        w.poll()
        assert w.stats.readings == 5  # both late readings, in their order
        progress(0.0)
        w.poll()
        assert w.stats.readings == 5
    finally:
        w.close()


def test_a_checkpoint_interval_out_of_range_is_refused(db_url: str) -> None:
    with pytest.raises(ValueError, match="checkpoint interval"):
        _config(db_url, "w", checkpoint_s=-1.0)


def test_the_detect_role_is_enough_to_run_a_worker(
    db_url: str, t0: datetime, start_worker: Any
) -> None:
    devices = _lights(2)
    _register(db_url, devices)
    login = f"detect_{os.getpid()}"
    with connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
        conn.execute(sql.SQL("GRANT citypulse_detect TO {}").format(sql.Identifier(login)))
        conn.execute(
            "INSERT INTO dead_letters (received_at, topic, payload, reason, device_id) "
            "VALUES (%s, 'city/x/traffic_light/tl-00/telemetry', 'x', 'invalid_json', 'tl-00')",
            (t0 + timedelta(seconds=30),),
        )
    parts = urlsplit(db_url)
    url = urlunsplit(parts._replace(netloc=f"{login}@{parts.hostname}:{parts.port}"))
    try:
        with connect(url) as conn:
            denied = False
            try:
                conn.execute("SELECT payload FROM dead_letters")
            except psycopg.errors.InsufficientPrivilege:
                denied = True
            assert denied  # raw payloads are not the detector's business
        start_worker(_config(url, "least", partitions=2, lookback_s=6 * 3600))
        for step in range(3):
            _insert_step(db_url, devices, t0, step)
        expected = {("tl-00", "invalid_data"), ("tl-00", "lamp_fault"), ("tl-01", "lamp_fault")}
        assert _wait(lambda: {(r[0], r[1]) for r in _incidents(db_url)} == expected)
    finally:
        with connect(db_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (login,),
            )


def test_a_device_registered_after_the_start_is_watched_from_its_first_reading(
    db_url: str, t0: datetime, start_worker: Any
) -> None:
    w = start_worker(_config(db_url, "w", partitions=2, lookback_s=6 * 3600))
    assert _wait(lambda: len(w.worker.held) == 2)
    time.sleep(0.5)  # at least one poll with the device unknown
    late = _lights(1)
    _register(db_url, late)
    for step in range(2):
        _insert_step(db_url, late, t0, step)
    assert _wait(lambda: [(r[0], r[1]) for r in _incidents(db_url)] == [("tl-00", "lamp_fault")])


def test_an_unreadable_checkpoint_restarts_the_detectors_at_its_watermark(
    db_url: str, t0: datetime
) -> None:
    devices = _lights(1)
    _register(db_url, devices)
    _insert_step(db_url, devices, t0, 0)  # arrived before the watermark: never seen
    with connect(db_url) as conn:
        conn.execute("UPDATE traffic_light_readings SET received_at = now() - interval '1 min'")
        for p in range(2):
            conn.execute(
                "INSERT INTO detector_checkpoints (partitions, partition, state, watermark) "
                "VALUES (2, %s, 'not a pickle', now())",
                (p,),
            )
        conn.commit()
    for step in (1, 2):
        _insert_step(db_url, devices, t0, step)
    w = DetectWorker(_config(db_url, "w", partitions=2), listener=NullListener())
    try:
        w.rebalance()
        assert w.held == [0, 1]
        w.poll()
    finally:
        w.close()
    rows = _incidents(db_url)
    assert [(r[0], r[2]) for r in rows] == [("tl-00", t0 + timedelta(minutes=2))]


def test_the_worker_runs_in_each_schema_mode(
    any_mode_db_url: str, t0: datetime, start_worker: Any
) -> None:
    devices = _lights(3)
    _register(any_mode_db_url, devices)
    start_worker(_config(any_mode_db_url, "w", partitions=2, lookback_s=6 * 3600))
    for step in range(3):
        _insert_step(any_mode_db_url, devices, t0, step)
    assert _wait(lambda: len(_incidents(any_mode_db_url)) == 3)
    report = replay(
        database_url=any_mode_db_url,
        start=t0,
        end=t0 + timedelta(minutes=3),
        listener=NullListener(),
    )
    assert report.adopted == 3
    assert report.opened == 0


def test_a_pinned_worker_takes_only_its_partition_and_waits_for_it(db_url: str) -> None:
    first = DetectWorker(_config(db_url, "p1", partitions=3, only=1), listener=NullListener())
    second = DetectWorker(_config(db_url, "p1-twin", partitions=3, only=1), listener=NullListener())
    try:
        first.rebalance()
        second.rebalance()
        assert first.held == [1]
        assert second.held == []  # held elsewhere: it waits rather than share
        first.close()
        second.rebalance()
        assert second.held == [1]
    finally:
        first.close()
        second.close()


@pytest.mark.faults
def test_the_worker_rides_out_a_database_it_cannot_reach(
    db_url: str, t0: datetime, start_worker: Any
) -> None:
    """Reconnecting while the database is unreachable is retried (it raised
    DatabaseError out of run() before), and the worker carries on when it is back."""
    devices = _lights(4)
    _register(db_url, devices)
    parts = urlsplit(db_url)
    assert parts.port is not None
    with TcpProxy(parts.port) as proxy:
        user = parts.netloc.rsplit("@", 1)[0]
        through = urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{proxy.port}"))
        r = start_worker(_config(through, "wa", partitions=2, lookback_s=6 * 3600))
        assert _wait(lambda: len(r.worker.held) == 2)
        proxy.cut()
        assert _wait(lambda: proxy.refused >= 2 or r.error is not None, 30)
        assert r.error is None, r.error
        assert r.thread.is_alive()
        proxy.restore()
        for step in range(5):
            _insert_step(db_url, devices, t0, step)
        assert _wait(lambda: len(_incidents(db_url)) == len(devices))
        r.worker.stop()
        r.thread.join(timeout=20)
    assert r.error is None, r.error


def test_a_checkpoint_of_an_older_detector_format_is_not_resumed() -> None:
    current = PartitionState(3, 1000.0)
    restored = DetectWorker._restore({"state": pickle.dumps(current)}, 3)
    assert isinstance(restored, PartitionState)
    assert restored.watermark == 1000.0
    older = PartitionState(3, 1000.0)
    del older.format  # pickled before detector state had a format: its slots differ
    assert DetectWorker._restore({"state": pickle.dumps(older)}, 3) is None


class _GcProbe(DetectWorker):
    """Records whether the cyclic collector was enabled during each poll."""

    enabled: list[bool]

    def poll(self) -> int:
        self.enabled.append(gc.isenabled())
        return super().poll()


def test_a_managed_worker_polls_without_the_collector_and_freezes_its_state(
    db_url: str, t0: datetime
) -> None:
    # A large city's partitions are hundreds of thousands of long-lived objects: full
    # collections walking them and each poll's rows were 13 % of a detect worker's CPU.
    devices = _lights(5)
    _register(db_url, devices)
    _insert_step(db_url, devices, t0, 0)
    plain = _GcProbe(_config(db_url, "plain", partitions=1), listener=NullListener())
    plain.enabled = []
    try:
        plain.run(until=lambda: plain.stats.polls >= 1)
    finally:
        plain.close()
    assert plain.enabled == [True]
    managed = _GcProbe(
        _config(db_url, "managed", partitions=1, manage_gc=True), listener=NullListener()
    )
    managed.enabled = []
    gc.unfreeze()
    try:
        managed.run(until=lambda: managed.stats.polls >= 2)
        assert managed.enabled == [False, False]
        assert gc.isenabled()
        (state,) = managed._states.values()
        monitor = next(iter(state.monitors.values()))
        assert gc.is_tracked(monitor)
        assert gc.get_freeze_count() > 0
        assert all(o is not monitor for o in gc.get_objects())  # frozen: out of reach
    finally:
        managed.close()
        gc.unfreeze()
