"""Incidents against a real PostgreSQL: open, update, escalate, resolve, cooldown, races."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from citypulse import Device, DeviceKind, Incident, IncidentChange, IncidentType
from citypulse.db import connect, upsert_devices
from detectors._incidents import ActionKind, Finding, IncidentStore, Normal, Trackers, normal

T0 = 1_772_400_000.0
DEV = Device(id="tl-1", kind=DeviceKind.TRAFFIC_LIGHT)


class Recorder:
    """A listener that records what it was told, and what each incident said when it
    opened, and checks it runs in a transaction."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, IncidentChange]] = []
        self.opened: list[Incident] = []

    def incident_changed(
        self,
        conn: psycopg.Connection[Any],
        incident: Incident,
        device: Device,
        change: IncidentChange,
    ) -> None:
        assert conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        self.calls.append((incident.id, incident.type.value, change))
        if change is IncidentChange.OPENED:
            self.opened.append(incident)


def _stuck(t: float, seconds: float) -> Finding:
    return Finding(
        IncidentType.STUCK_PHASE,
        t,
        detector="StuckPhase",
        metric="phase_duration",
        value=seconds,
        limit=150.0,
        unit="s",
        since=t - seconds,
        extra={"phase": "red"},
    )


def _setup(db_url: str) -> None:
    with connect(db_url) as conn:
        upsert_devices(conn, [DEV, Device(id="cam-1", kind=DeviceKind.CAMERA)])
        conn.commit()


def _apply(db_url: str, trackers: Trackers, store: IncidentStore) -> None:
    with connect(db_url) as conn:
        with conn.transaction():
            store.apply(conn, trackers.take())
        trackers.saved()


def _rows(db_url: str) -> list[tuple[Any, ...]]:
    with connect(db_url) as conn:
        return conn.execute(
            "SELECT id, type, status, severity, alarms, evidence->>'phase', value, limit_value, "
            "extract(epoch FROM started_at), extract(epoch FROM resolved_at) "
            "FROM incidents ORDER BY id"
        ).fetchall()


def test_open_update_escalate_resolve(db_url: str) -> None:
    _setup(db_url)
    rec = Recorder()
    store = IncidentStore(listener=rec, worker="t", devices={DEV.id: DEV})
    tr = Trackers()
    tr.observe(DEV.id, _stuck(T0, 160.0))
    _apply(db_url, tr, store)
    (row,) = _rows(db_url)
    assert row[1:6] == ("stuck_phase", "open", 3, 1, "red")
    assert row[6] == 160.0
    assert row[7] == 150.0
    assert float(row[8]) == T0
    # Repeated alarms update the same incident; a quarter of an hour escalates it.
    for i in range(1, 20):
        tr.observe(DEV.id, _stuck(T0 + 60 * i, 160.0 + 60 * i))
    _apply(db_url, tr, store)
    (row,) = _rows(db_url)
    assert row[2] == "open"
    assert row[3] == 4
    assert row[4] == 20
    # Normal, but not yet for long enough: still open.  Then resolved.
    tr.observe(DEV.id, normal(IncidentType.STUCK_PHASE, T0 + 1200))
    tr.tick(T0 + 1250)
    _apply(db_url, tr, store)
    assert _rows(db_url)[0][2] == "open"
    tr.tick(T0 + 1330)
    _apply(db_url, tr, store)
    (row,) = _rows(db_url)
    assert row[2] == "resolved"
    assert float(row[9]) == T0 + 1330
    assert [c[2] for c in rec.calls] == [
        IncidentChange.OPENED,
        IncidentChange.ESCALATED,
        IncidentChange.RESOLVED,
    ]


def test_an_incident_opens_as_its_opening_alarm_saw_it_in_a_long_batch(db_url: str) -> None:
    """A replay applies an hour of alarms at once: the incident still opens with the
    alarm that opened it (the appeal is dated by it), and the later alarms follow as an
    update and an escalation dated by them."""
    _setup(db_url)
    rec = Recorder()
    store = IncidentStore(listener=rec, worker="t", devices={DEV.id: DEV})
    tr = Trackers()
    for i in range(20):
        tr.observe(DEV.id, _stuck(T0 + 60 * i, 160.0 + 60 * i))
    _apply(db_url, tr, store)  # one batch: the opening alarm and 19 more
    (opened,) = rec.opened
    assert opened.last_alarm_at.timestamp() == T0
    assert opened.severity == 3
    assert [c[2] for c in rec.calls] == [IncidentChange.OPENED, IncidentChange.ESCALATED]
    (row,) = _rows(db_url)
    assert row[3:5] == (4, 20)
    with connect(db_url) as conn:
        last = conn.execute("SELECT extract(epoch FROM last_alarm_at) FROM incidents").fetchone()
    assert last is not None
    assert float(last[0]) == T0 + 60 * 19


def test_flapping_is_damped_by_the_cooldown(db_url: str) -> None:
    _setup(db_url)
    store = IncidentStore(listener=Recorder(), worker="t", devices={DEV.id: DEV})
    tr = Trackers()
    t = T0
    tr.observe(DEV.id, _stuck(t, 160.0))
    # Alarm and normal alternate faster than resolve_after: one incident throughout.
    for _i in range(10):
        t += 60
        tr.observe(DEV.id, normal(IncidentType.STUCK_PHASE, t))
        t += 60
        tr.observe(DEV.id, _stuck(t, 160.0))
    _apply(db_url, tr, store)
    assert len(_rows(db_url)) == 1
    # Resolved; an alarm within the cooldown opens nothing, one that persists past it does.
    tr.observe(DEV.id, normal(IncidentType.STUCK_PHASE, t + 10))
    tr.tick(t + 200)
    tr.observe(DEV.id, _stuck(t + 300, 160.0))
    _apply(db_url, tr, store)
    rows = _rows(db_url)
    assert [r[2] for r in rows] == ["resolved"]
    tr.observe(DEV.id, _stuck(t + 900, 760.0))
    _apply(db_url, tr, store)
    rows = _rows(db_url)
    assert [r[2] for r in rows] == ["resolved", "open"]
    assert float(rows[1][8]) == t + 300  # starts at the first alarm of the held spell


def test_two_connections_racing_open_one_incident(db_url: str) -> None:
    _setup(db_url)
    recs = [Recorder(), Recorder()]
    inserted = threading.Event()
    errors: list[BaseException] = []

    def contender(i: int) -> None:
        try:
            store = IncidentStore(listener=recs[i], worker=f"w{i}", devices={DEV.id: DEV})
            tr = Trackers()
            # Different first alarm times: the database, not equal keys, must stop this.
            tr.observe(DEV.id, _stuck(T0 + i, 160.0))
            with connect(db_url) as conn:
                if i == 1:
                    assert inserted.wait(timeout=10)
                with conn.transaction():
                    store.apply(conn, tr.take())
                    if i == 0:
                        # Keep the new row uncommitted while the other one inserts.
                        inserted.set()
                        threading.Event().wait(0.5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert errors == []
    rows = _rows(db_url)
    assert len(rows) == 1
    assert rows[0][2] == "open"
    assert rows[0][4] == 2
    assert [c[2] for c in recs[0].calls] == [IncidentChange.OPENED]
    assert recs[1].calls == []


def test_replaying_the_same_findings_opens_nothing_twice(db_url: str) -> None:
    _setup(db_url)

    def episode(rec: Recorder) -> None:
        store = IncidentStore(listener=rec, worker="t", devices={DEV.id: DEV})
        tr = Trackers()
        tr.observe(DEV.id, _stuck(T0, 160.0))
        tr.observe(DEV.id, normal(IncidentType.STUCK_PHASE, T0 + 60))
        tr.tick(T0 + 600)
        _apply(db_url, tr, store)

    first, second = Recorder(), Recorder()
    episode(first)
    episode(second)
    assert len(_rows(db_url)) == 1
    assert [c[2] for c in first.calls] == [IncidentChange.OPENED, IncidentChange.RESOLVED]
    assert second.calls == []


def test_observe_all_resolves_through_normals_once_a_device_has_alarmed() -> None:
    """Normals of a device that never alarmed are dropped without a tracker; once it has
    one, the same batches reach it and resolve the incident, while a quiet device beside
    it gets none."""
    tr = Trackers()
    quiet = "other-device"
    for i in range(3):
        tr.observe_all(quiet, [normal(IncidentType.STUCK_PHASE, T0 + i)])
        tr.observe_all(DEV.id, [normal(IncidentType.STUCK_PHASE, T0 + i)])
    assert tr.open_incidents() == []
    assert tr.take() == []
    tr.observe_all(DEV.id, [normal(IncidentType.DEVICE_SILENT, T0 + 5), _stuck(T0 + 5, 160.0)])
    assert [(a.kind, a.device_id) for a in tr.take()] == [(ActionKind.OPEN, DEV.id)]
    tr.observe_all(DEV.id, [normal(IncidentType.STUCK_PHASE, T0 + 10)])
    tr.observe_all(quiet, [normal(IncidentType.STUCK_PHASE, T0 + 10)])
    tr.tick(T0 + 10 + 300)
    (resolved,) = tr.take()
    assert (resolved.kind, resolved.device_id) == (ActionKind.RESOLVE, DEV.id)
    assert resolved.episode.resolved_at == T0 + 310
    assert tr.open_incidents() == []
    n = normal(IncidentType.CONGESTION, T0)
    assert isinstance(n, Normal)
    assert (n.type, n.t, n.alarm) == (IncidentType.CONGESTION, T0, False)
