"""Incidents: from detector findings to rows in ``incidents``, one open per (device, type).

Two halves.  :class:`Tracker` is the pure state machine for one (device, type), driven
by :class:`Finding` objects in reading time (no wall clock, picklable, part of the
worker's checkpoint): the first alarm opens an episode, repeated alarms update it,
severity escalates with duration and with how far the value is over its limit, and
the episode resolves once the series has been normal for ``resolve_after_s``
(hysteresis in time).  After a resolution, alarms within ``cooldown_s`` do not open a
new incident; if they persist past the cooldown, the new incident starts at the first
of them (flapping is damped, a lasting fault is not lost).  :class:`IncidentStore`
applies the resulting :class:`Action` list to the database in the caller's
transaction and calls the :class:`~citypulse.IncidentListener` on every change there.

Concurrency and restarts: the partial unique index ``incidents_one_open`` stops two
workers opening the same (device, type); ``INSERT … ON CONFLICT DO NOTHING`` makes the
loser adopt and update the winner's row instead.  The unique index on
``(device_id, type, started_at)`` (sql/0007) makes re-deriving an incident from the
same readings (a replay) find the stored row rather than open it twice, and every update
is idempotent (``alarms`` is the episode's own count, the times and severity only
grow), so a worker that re-derives what it already applied (a restart from a checkpoint
older than its last commit) changes nothing.  The listener is called only for changes
that really happened in the database (a row inserted, a severity raised, a status
changed), so a replay never notifies twice.

Evidence (``incidents.evidence``), for every type: ``detector``, ``metric``, ``score``,
``threshold``, ``value``, ``limit``, ``unit`` (as the columns ``value``,
``limit_value``, ``unit``), ``since`` (ISO time the condition began, usually
``started_at``), ``duration_s`` (since ``since`` up to the last alarm), ``peak``
(worst value), ``alarms`` and ``readings`` (the last alarming observations as
``[ISO time, value]``).  Per type, in addition:

- ``stuck_phase``: ``phase`` (red, green, ...); value = seconds in that phase, limit =
  the allowed maximum, unit ``s``.
- ``signal_flashing`` / ``signal_dark``: ``phase`` (flashing_yellow / off),
  ``controller_mode``; value = seconds in it, unit ``s``.
- ``lamp_fault``: ``reports`` (consecutive reports with the flag).
- ``device_silent``: ``reason`` (``silence``, ``last_will``, ``status``),
  ``last_seen`` (ISO), ``expected_interval_s``; value = seconds without data, limit =
  k × the expected interval, unit ``s``.
- ``frozen_values``: ``lane_id`` (cameras), ``repeats``; value = seconds frozen.
- ``camera_obstructed``: ``lane_id``, ``expected_per_interval`` (vehicles the lane
  normally counts); value = vehicles counted (0).  When the camera's lanes were judged
  together, ``lanes`` lists them and ``expected_per_interval`` is their sum.
- ``congestion``: ``lane_id``, ``occupancy``; value = speed (km/h), limit = the speed
  below which the lane counts as congested, unit ``km/h``.
- ``parking_stuck``: value = the unchanging occupied count; ``parking_full``: value =
  occupied spots, limit = usable spots, ``total``.
- ``air_quality_exceedance``: ``metric`` = pollutant (pm25, pm10, no2, so2, co, o3),
  ``averaging`` (``max_single`` = 20-minute mean, ``daily`` = 24-hour mean),
  ``averaging_s``, ``standard`` (СанПиН 1.2.3685-21); value and limit in mg/m³.
- ``sensor_drift``: ``reference`` (the co-located metric the drift is judged
  against), ``offset`` (current estimated drift in the metric's unit).
- ``anomaly``: ``lane_id`` (cameras), ``expected`` (the learnt level), ``z``.
- ``invalid_data``: ``reason`` (a dead-letter reason such as ``out_of_range`` or
  ``invalid_json``, or ``inconsistent`` for an impossible stored reading), ``detail``.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, NamedTuple, assert_never

import psycopg
from psycopg.types.json import Jsonb

from citypulse import (
    Device,
    Incident,
    IncidentChange,
    IncidentListener,
    IncidentStatus,
    IncidentType,
)
from detectors._base import clip01
from detectors._errors import IncidentConflictError
from detectors._rows import fetch_one

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Finding:
    """An alarm: one observation judged abnormal for one incident type, with its evidence.

    ``t`` is the reading time (epoch s) the judgement refers to.  A normal judgement is
    a :class:`Normal`.
    """

    alarm: ClassVar[bool] = True  # beside Normal's False: a judgement says which it is

    type: IncidentType
    t: float
    detector: str = ""
    score: float = 1.0
    threshold: float = 0.5
    metric: str = ""
    value: float | None = None
    limit: float | None = None
    unit: str = ""
    since: float | None = None  # when the condition began, if earlier than t
    extra: Mapping[str, object] = field(default_factory=dict)


class Normal(NamedTuple):
    """A judgement that nothing is wrong with ``type`` at ``t``.

    Monitors judge every reading for each of their incident types, and nearly all of
    those judgements are normal and dropped at once (no incident of that type is open).
    A tuple is built several times faster than a frozen :class:`Finding`, which cost a
    tenth of a detect worker's CPU at a large city's rate.
    """

    type: IncidentType
    t: float
    alarm: bool = False


#: What a monitor says about one incident type at one reading: an alarm (or an alarm's
#: detail) as a :class:`Finding`, or :class:`Normal`.
Judgement = Finding | Normal


_new_tuple: Final = tuple.__new__


def normal(itype: IncidentType, t: float) -> Normal:
    # Normal(itype, t) goes through the named tuple's generated __new__ and its default:
    # half again as long, for the commonest object a detect worker builds.
    return _new_tuple(Normal, (itype, t, False))


@dataclass(frozen=True, slots=True)
class IncidentPolicy:
    """How one incident type opens, escalates and resolves (times in reading seconds)."""

    severity: int = 2
    resolve_after_s: float = 300.0
    cooldown_s: float = 600.0
    escalate_after_s: tuple[float, ...] = (3600.0, 4 * 3600.0)
    escalate_ratio: tuple[float, ...] = ()  # value / limit at which severity rises by 1

    def severity_for(self, duration_s: float, value: float | None, limit: float | None) -> int:
        s = self.severity + sum(1 for d in self.escalate_after_s if duration_s >= d)
        if value is not None and limit and limit > 0:
            s += sum(1 for r in self.escalate_ratio if value / limit >= r)
        return max(1, min(4, s))


_T = IncidentType
POLICIES: Final[Mapping[IncidentType, IncidentPolicy]] = {
    _T.STUCK_PHASE: IncidentPolicy(3, 120.0, 600.0, (900.0, 3600.0)),
    _T.SIGNAL_FLASHING: IncidentPolicy(3, 120.0, 600.0, (1800.0,)),
    _T.SIGNAL_DARK: IncidentPolicy(4, 120.0, 600.0, ()),
    _T.LAMP_FAULT: IncidentPolicy(3, 300.0, 600.0, (4 * 3600.0,)),
    _T.DEVICE_SILENT: IncidentPolicy(2, 120.0, 600.0, (3600.0, 6 * 3600.0)),
    _T.FROZEN_VALUES: IncidentPolicy(2, 300.0, 900.0, (4 * 3600.0,)),
    _T.CAMERA_OBSTRUCTED: IncidentPolicy(2, 300.0, 900.0, (4 * 3600.0,)),
    _T.CONGESTION: IncidentPolicy(2, 600.0, 900.0, (1800.0, 3600.0)),
    _T.PARKING_STUCK: IncidentPolicy(1, 1800.0, 1800.0, (12 * 3600.0,)),
    _T.PARKING_FULL: IncidentPolicy(1, 1800.0, 3600.0, (6 * 3600.0,)),
    _T.AIR_QUALITY_EXCEEDANCE: IncidentPolicy(3, 3600.0, 3600.0, (6 * 3600.0,), (2.0,)),
    _T.SENSOR_DRIFT: IncidentPolicy(1, 6 * 3600.0, 6 * 3600.0, (24 * 3600.0,)),
    _T.ANOMALY: IncidentPolicy(1, 600.0, 900.0, ()),
    _T.INVALID_DATA: IncidentPolicy(1, 900.0, 900.0, (6 * 3600.0,)),
}

_KEEP_READINGS = 10


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


class Episode:
    """One incident as the tracker knows it; ``incident_id`` is set once stored."""

    __slots__ = (
        "alarm_base",
        "alarms",
        "closed",
        "detector",
        "extra",
        "first",
        "incident_id",
        "last_alarm",
        "limit",
        "metric",
        "opening",
        "peak",
        "readings",
        "resolved_at",
        "score",
        "severity",
        "since",
        "started",
        "threshold",
        "unit",
        "unsaved_alarms",
        "value",
    )

    def __init__(self, f: Finding, started: float, severity: int) -> None:
        self.incident_id: int | None = None
        self.closed = False  # the stored row is no longer open (operator, replay)
        self.started = started
        self.since = f.since if f.since is not None and f.since < started else started
        self.first = f.value
        self.last_alarm = f.t
        self.alarms = 0
        self.alarm_base = 0  # the stored row's alarms when it was adopted from another worker
        self.unsaved_alarms = 0
        self.severity = severity
        self.detector = f.detector
        self.metric = f.metric
        self.score = f.score
        self.threshold = f.threshold
        self.value = f.value
        self.peak = f.value
        self.limit = f.limit
        self.unit = f.unit
        self.extra: dict[str, object] = dict(f.extra)
        self.readings: deque[tuple[float, float | None]] = deque(maxlen=_KEEP_READINGS)
        self.resolved_at: float | None = None
        # The alarm that opened the incident and its severity then: what the stored row
        # says at opening, even when later alarms of the same batch (a replay's chunk of
        # an hour) are applied with it.
        self.opening: tuple[float, int] = (f.t, severity)

    def add(self, f: Finding, severity: int) -> None:
        self.alarms += 1
        self.unsaved_alarms += 1
        if f.t > self.last_alarm:
            self.last_alarm = f.t
        self.severity = max(self.severity, severity)
        self.score = max(self.score, f.score)
        self.detector, self.metric, self.threshold = f.detector, f.metric, f.threshold
        self.value, self.limit, self.unit = f.value, f.limit, f.unit
        if f.value is not None and (self.peak is None or f.value > self.peak):
            self.peak = f.value
        self.extra.update(f.extra)
        self.readings.append((f.t, f.value))

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {
            "detector": self.detector,
            "metric": self.metric,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "value": self.peak,
            "limit": self.limit,
            "unit": self.unit,
            "since": iso(self.since),
            "duration_s": round(self.last_alarm - self.since, 1),
            "peak": self.peak,
            "alarms": self.alarms,
            "readings": [[iso(t), v] for t, v in self.readings],
        }
        out.update(self.extra)
        return out


class ActionKind(enum.Enum):
    """What an :class:`Action` does to the stored incident of its episode."""

    OPEN = "open"
    UPDATE = "update"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Action:
    """What to do in the database: open, update or resolve an episode's incident."""

    kind: ActionKind
    device_id: str
    type: IncidentType
    episode: Episode


class Tracker:
    """The incident state machine of one (device, type); see the module docstring."""

    __slots__ = ("_dirty", "device_id", "episode", "held", "normal_since", "resolved_at", "type")

    def __init__(self, device_id: str, itype: IncidentType) -> None:
        self.device_id = device_id
        self.type = itype
        self.episode: Episode | None = None
        self.normal_since: float | None = None
        self.resolved_at: float | None = None
        self.held: float | None = None  # first alarm seen during the cooldown
        self._dirty = False

    @property
    def open(self) -> bool:
        return self.episode is not None

    def observe(self, f: Judgement, out: list[Action]) -> None:
        """Feed one judgement; append the database actions it calls for to ``out``."""
        policy = POLICIES[self.type]
        ep = self.episode
        if isinstance(f, Normal):
            self.held = None
            if ep is not None:
                if self.normal_since is None or f.t < self.normal_since:
                    self.normal_since = f.t
                self._maybe_resolve(f.t, policy, out)
            return
        self.normal_since = None
        if ep is None:
            if self.resolved_at is not None and f.t - self.resolved_at < policy.cooldown_s:
                if self.held is None:
                    self.held = f.t
                return
            started = self.held if self.held is not None else f.t
            self.held = None
            ep = self.episode = Episode(f, started, policy.severity)
            ep.add(f, policy.severity_for(f.t - ep.since, f.value, f.limit))
            ep.opening = (f.t, ep.severity)
            self._dirty = True
            out.append(Action(ActionKind.OPEN, self.device_id, self.type, ep))
            return
        if ep.closed:
            return
        ep.add(f, policy.severity_for(f.t - ep.since, f.value, f.limit))
        if not self._dirty:
            self._dirty = True
            out.append(Action(ActionKind.UPDATE, self.device_id, self.type, ep))

    def tick(self, now: float, out: list[Action]) -> None:
        """Let time pass with no observation: resolves an episode normal for long enough."""
        if self.episode is not None and self.normal_since is not None:
            self._maybe_resolve(now, POLICIES[self.type], out)

    def _maybe_resolve(self, t: float, policy: IncidentPolicy, out: list[Action]) -> None:
        ep = self.episode
        assert ep is not None
        assert self.normal_since is not None
        if t - self.normal_since < policy.resolve_after_s:
            return
        ep.resolved_at = t
        self.episode = None
        self.resolved_at = t
        self.normal_since = None
        out.append(Action(ActionKind.RESOLVE, self.device_id, self.type, ep))

    def saved(self) -> None:
        """The actions of this batch were applied: later alarms need a new update."""
        self._dirty = False


class Trackers:
    """Every tracker of a set of devices, keyed by (device, type); picklable."""

    __slots__ = ("_by_key", "_tracked", "actions")

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, IncidentType], Tracker] = {}
        self._tracked: set[str] = set()  # the devices that have a tracker
        self.actions: list[Action] = []

    def observe(self, device_id: str, f: Judgement) -> None:
        key = (device_id, f.type)
        tr = self._by_key.get(key)
        if tr is None:
            if not f.alarm:
                return  # nothing open, nothing to resolve
            tr = self._by_key[key] = Tracker(device_id, f.type)
            self._tracked.add(device_id)
        tr.observe(f, self.actions)

    def observe_all(self, device_id: str, findings: Iterable[Judgement]) -> None:
        if device_id in self._tracked:
            for f in findings:
                self.observe(device_id, f)
            return
        # Nearly every device has never alarmed: its normal judgements change nothing.
        for f in findings:
            if f.alarm:
                self.observe(device_id, f)

    def tick(self, now: float) -> None:
        for tr in self._by_key.values():
            if tr.episode is not None:
                tr.tick(now, self.actions)

    def take(self) -> list[Action]:
        """The pending actions, cleared; call :meth:`saved` once they are committed."""
        actions, self.actions = self.actions, []
        return actions

    def saved(self) -> None:
        for tr in self._by_key.values():
            tr.saved()

    def open_incidents(self) -> list[tuple[str, IncidentType, Episode]]:
        return [(k[0], k[1], t.episode) for k, t in self._by_key.items() if t.episode is not None]


# --- the database side ----------------------------------------------------------------------

_COLUMNS: Final = (
    "id, type, device_id, severity, status, started_at, last_alarm_at, detector, score, "
    "threshold, value, limit_value, unit, evidence, related_devices, resolved_at, opened_at, "
    "alarms, note"
)
_INSERT: Final = f"""
INSERT INTO incidents (type, device_id, severity, started_at, last_alarm_at, detector, score,
                       threshold, value, limit_value, unit, evidence, alarms, worker)
VALUES (%s, %s, %s, to_timestamp(%s), to_timestamp(%s), %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING {_COLUMNS}
"""  # noqa: S608 - constant column list
_EXISTING: Final = f"""
SELECT {_COLUMNS} FROM incidents
WHERE device_id = %s AND type = %s AND (started_at = to_timestamp(%s) OR status = 'open')
ORDER BY (started_at = to_timestamp(%s)) DESC
LIMIT 1
"""  # noqa: S608
_UPDATE: Final = """
UPDATE incidents AS i
SET last_alarm_at = greatest(i.last_alarm_at, to_timestamp(%s)),
    alarms = greatest(i.alarms, %s),
    severity = greatest(i.severity, %s),
    score = greatest(i.score, %s),
    value = %s, limit_value = %s, unit = %s,
    evidence = i.evidence || %s,
    updated_at = now(),
    worker = %s
FROM incidents AS old
WHERE i.id = %s AND old.id = i.id AND i.status = 'open'
RETURNING old.severity AS old_severity, {}
""".format(", ".join(f"i.{c.strip()}" for c in _COLUMNS.split(",")))
_RESOLVE: Final = f"""
UPDATE incidents
SET status = 'resolved', resolved_at = greatest(to_timestamp(%s), last_alarm_at),
    evidence = evidence || %s, updated_at = now(), worker = %s
WHERE id = %s AND status = 'open'
RETURNING {_COLUMNS}
"""  # noqa: S608


def incident_from_row(row: Mapping[str, Any]) -> Incident:
    """An :class:`Incident` from a row that selects ``_COLUMNS``, read by name."""
    return Incident(
        id=row["id"],
        type=IncidentType(row["type"]),
        device_id=row["device_id"],
        severity=row["severity"],
        status=IncidentStatus(row["status"]),
        started_at=row["started_at"],
        last_alarm_at=row["last_alarm_at"],
        detector=row["detector"],
        score=float(row["score"]),
        threshold=float(row["threshold"]),
        value=row["value"],
        limit_value=row["limit_value"],
        unit=row["unit"],
        evidence=row["evidence"] or {},
        related_devices=tuple(row["related_devices"] or ()),
        resolved_at=row["resolved_at"],
        opened_at=row["opened_at"],
        alarms=row["alarms"],
        note=row["note"],
    )


@dataclass(slots=True)
class StoreCounts:
    opened: int = 0
    adopted: int = 0
    updated: int = 0
    escalated: int = 0
    resolved: int = 0


class IncidentStore:
    """Applies tracker actions to ``incidents`` in the caller's transaction.

    ``devices`` resolves a device id to its record for the listener (an unknown id gets
    a bare record).  Nothing here commits.
    """

    def __init__(
        self, *, listener: IncidentListener, worker: str, devices: Mapping[str, Device]
    ) -> None:
        self.listener = listener
        self.worker = worker
        self.devices = devices
        self.counts = StoreCounts()

    def _device(self, device_id: str) -> Device:
        d = self.devices.get(device_id)
        if d is None:  # deleted from the registry meanwhile: the listener still gets an id
            from citypulse import DeviceKind

            d = Device(id=device_id, kind=DeviceKind.CAMERA, name=device_id)
        return d

    def apply(self, conn: psycopg.Connection[Any], actions: Sequence[Action]) -> None:
        for a in actions:
            match a.kind:
                case ActionKind.OPEN:
                    self._open(conn, a)
                case ActionKind.UPDATE:
                    self._update(conn, a)
                case ActionKind.RESOLVE:
                    self._resolve(conn, a)
                case _:
                    assert_never(a.kind)

    def _notify(
        self, conn: psycopg.Connection[Any], row: Mapping[str, Any], change: IncidentChange
    ) -> Incident:
        incident = incident_from_row(row)
        self.listener.incident_changed(conn, incident, self._device(incident.device_id), change)
        log.info(
            "incident %s %s: %s on %s (severity %d)",
            incident.id,
            change.value,
            incident.type.value,
            incident.device_id,
            incident.severity,
        )
        return incident

    def _open(self, conn: psycopg.Connection[Any], a: Action) -> None:
        """Store the incident as its opening alarm saw it (the listener dates its appeal
        by that alarm), then what later alarms of the batch added, as an update."""
        ep = a.episode
        ep.unsaved_alarms, alarms = 0, max(1, ep.unsaved_alarms)
        opened_t, opened_severity = getattr(ep, "opening", (ep.last_alarm, ep.severity))
        params = (
            a.type.value,
            a.device_id,
            opened_severity,
            ep.started,
            max(opened_t, ep.started),
            ep.detector,
            clip01(ep.score),
            clip01(ep.threshold),
            ep.peak,
            ep.limit,
            ep.unit,
            Jsonb(ep.evidence()),
            alarms,
            self.worker,
        )
        for _attempt in range(3):
            row = fetch_one(conn, _INSERT, params)
            if row is not None:
                ep.incident_id = row["id"]
                self.counts.opened += 1
                self._notify(conn, row, IncidentChange.OPENED)
                if ep.last_alarm > opened_t or ep.severity > opened_severity:
                    self._update(conn, a)  # the batch's later alarms, dated by them
                return
            found = fetch_one(conn, _EXISTING, (a.device_id, a.type.value, ep.started, ep.started))
            if found is None:
                continue  # the conflicting row was resolved meanwhile: insert again
            ep.incident_id = found["id"]
            self.counts.adopted += 1
            same_start = found["started_at"] == datetime.fromtimestamp(ep.started, UTC)
            if IncidentStatus(found["status"]) is not IncidentStatus.OPEN:
                ep.closed = True  # already stored and finished (a replay): nothing to do
                return
            if not same_start:
                # Another worker opened it first: ours becomes an update of theirs.
                ep.alarm_base = int(found["alarms"])
                self._update(conn, a)
            return
        raise IncidentConflictError(a.device_id, a.type.value)

    def _update(self, conn: psycopg.Connection[Any], a: Action) -> None:
        ep = a.episode
        if ep.incident_id is None or ep.closed:
            return
        ep.unsaved_alarms = 0
        row = fetch_one(
            conn,
            _UPDATE,
            (
                ep.last_alarm,
                ep.alarm_base + ep.alarms,
                ep.severity,
                clip01(ep.score),
                ep.peak,
                ep.limit,
                ep.unit,
                Jsonb(ep.evidence()),
                self.worker,
                ep.incident_id,
            ),
        )
        if row is None:
            ep.closed = True  # closed by an operator or resolved by a replay
            return
        self.counts.updated += 1
        if row["severity"] > row["old_severity"]:
            self.counts.escalated += 1
            self._notify(conn, row, IncidentChange.ESCALATED)

    def _resolve(self, conn: psycopg.Connection[Any], a: Action) -> None:
        ep = a.episode
        if ep.incident_id is None or ep.closed:
            return
        if ep.unsaved_alarms:
            self._update(conn, a)
        assert ep.resolved_at is not None
        row = fetch_one(
            conn,
            _RESOLVE,
            (
                ep.resolved_at,
                Jsonb({"normal_since": iso(ep.resolved_at - POLICIES[a.type].resolve_after_s)}),
                self.worker,
                ep.incident_id,
            ),
        )
        ep.closed = True
        if row is not None:
            self.counts.resolved += 1
            self._notify(conn, row, IncidentChange.RESOLVED)


class NullListener:
    """An :class:`~citypulse.IncidentListener` that does nothing (no appeals side wired)."""

    def incident_changed(
        self,
        conn: psycopg.Connection[Any],
        incident: Incident,
        device: Device,
        change: IncidentChange,
    ) -> None:
        return None
