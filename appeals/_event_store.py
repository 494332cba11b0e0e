"""Events from other systems become incidents and appeals, in the caller's transaction.

An event (already parsed and authenticated, see ``_events``) is, in order:

1. a repeat of ``(source, event_id)``: the first outcome comes back and nothing is written;
   with another body it is refused (:class:`EventConflict`);
2. a repeat of a situation: an open incident of the same type, not older than the
   routing file's ``events.dedup.window`` before this event, from the sender's same device,
   within ``events.dedup.distance_m`` or at the same address.  The incident takes the
   event (last time, severity, the report in its evidence) and its appeal a history note,
   a higher priority if the severity calls for it, and an ``updated`` outbox row;
3. otherwise a new incident (no device of ours: ``source_system`` says who saw it) and
   its appeal, source ``system``: routed by the incident type, texted, written with its
   outbox rows, then correlated with citizens' reports nearby.

Two advisory locks make concurrent senders safe: one per ``(source, event_id)``, then one
per incident type, always in that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row, scalar_row
from psycopg.types.json import Jsonb

from appeals._correlate import correlate, haversine_m
from appeals._errors import AppealNotFound, EventConflict
from appeals._event_texts import EventFacts, EventTexts
from appeals._requests import report_district
from appeals._routing import EventSource, Routing
from appeals._store import AppealDraft, create_appeal, load_appeal, record_update
from citypulse import AppealSource, EventIncidentType

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
_SEEN = """
SELECT body_sha256, incident_id, appeal_id, outcome FROM system_events
WHERE source = %s AND event_id = %s
"""
_OPEN = """
SELECT id, severity, lat, lon, address, evidence->>'device_id' AS device_id
FROM incidents
WHERE device_id IS NULL AND status = 'open' AND type = %(type)s
  AND last_alarm_at >= %(at)s - %(window)s AND started_at <= %(at)s + %(window)s
ORDER BY last_alarm_at DESC
LIMIT 200
"""
_INCIDENT = """
INSERT INTO incidents (type, device_id, source_system, lat, lon, address, severity,
                       started_at, last_alarm_at, detector, score, threshold, evidence)
VALUES (%(type)s, NULL, %(source)s, %(lat)s, %(lon)s, %(address)s, %(severity)s,
        %(at)s, %(at)s, %(detector)s, 1, 1, %(evidence)s)
RETURNING id
"""
_UPDATE = """
UPDATE incidents
SET last_alarm_at = greatest(last_alarm_at, %(at)s),
    started_at = least(started_at, %(at)s),
    alarms = alarms + 1,
    severity = greatest(severity, %(severity)s),
    evidence = jsonb_set(evidence, '{reports}',
                         coalesce(evidence->'reports', '[]'::jsonb) || %(report)s),
    updated_at = now()
WHERE id = %(id)s
RETURNING severity
"""
_APPEAL_OF = "SELECT id FROM appeals WHERE incident_id = %s FOR UPDATE"
_PRIORITY = "UPDATE appeals SET priority = %s, updated_at = now() WHERE id = %s"
_RECORD = """
INSERT INTO system_events (source, event_id, body_sha256, type, occurred_at, key_name,
                           incident_id, appeal_id, outcome, payload)
VALUES (%(source)s, %(event_id)s, %(digest)s, %(type)s, %(at)s, %(key)s, %(incident)s,
        %(appeal)s, %(outcome)s, %(payload)s)
"""


@dataclass(frozen=True, slots=True)
class SystemEvent:
    """One event as another system sent it, validated (see ``_events.parse_event``)."""

    source: str
    event_id: str
    type: str  # the sender's own event type, mapped by the routing file
    occurred_at: datetime  # timezone-aware
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    device_id: str | None = None  # the sender's camera or device
    severity: int | None = None  # 1 low .. 4 critical
    description: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What became of an event: the incident and appeal it opened or updated."""

    source: str
    event_id: str
    incident_id: int
    appeal_id: int
    outcome: str  # opened | updated
    replayed: bool = False  # a repeat of (source, event_id): nothing was written


@dataclass(frozen=True, slots=True)
class _OpenIncident:
    id: int
    severity: int
    lat: float | None
    lon: float | None
    address: str
    device_id: str | None


def _report(event: SystemEvent) -> dict[str, object]:
    """The event as an incident's evidence keeps it (the sender's words, not ours)."""
    return {
        "source": event.source,
        "event_id": event.event_id,
        "event_type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "device_id": event.device_id,
        "severity": event.severity,
        "description": event.description,
        "extra": dict(event.extra),
    }


def _same_place(event: SystemEvent, other: _OpenIncident, distance_m: float) -> float | None:
    """How far ``other`` is (0 for the same sender device or address), None if elsewhere."""
    if event.device_id and other.device_id == event.device_id:
        return 0.0
    if (
        event.lat is not None
        and event.lon is not None
        and other.lat is not None
        and other.lon is not None
    ):
        metres = haversine_m(event.lat, event.lon, other.lat, other.lon)
        return metres if metres <= distance_m else None
    if event.address and " ".join(event.address.lower().split()) == " ".join(
        other.address.lower().split()
    ):
        return 0.0
    return None


class EventRecorder:
    """Records events as incidents and appeals (see the module docstring)."""

    def __init__(self, *, routing: Routing, connectors: Sequence[str] = ()) -> None:
        self.routing = routing
        self.connectors = tuple(connectors)
        self.texts = EventTexts(timezone=routing.timezone)

    def _facts(self, event: SystemEvent, source: EventSource, district: str) -> EventFacts:
        utility = event.extra.get("utility")
        return EventFacts(
            incident_type=source.types[event.type],
            source_name=(source.name_ru, source.name_en),
            event_id=event.event_id,
            occurred_at=event.occurred_at,
            lat=event.lat,
            lon=event.lon,
            address=event.address,
            district=district,
            device_id=event.device_id,
            severity=event.severity,
            description=event.description,
            utility=utility if isinstance(utility, str) else "",
        )

    def record(
        self,
        conn: psycopg.Connection[Any],
        event: SystemEvent,
        *,
        digest: bytes,
        key_name: str,
        payload: Mapping[str, object],
    ) -> EventOutcome:
        """Record ``event`` (``digest``: SHA-256 of its canonical JSON) sent with the key
        ``key_name``; raise :class:`EventConflict` on a reused id with another body."""
        conn.execute(_LOCK, (f"citypulse-event:{event.source}:{event.event_id}",))
        seen = (
            conn.cursor(row_factory=dict_row)
            .execute(_SEEN, (event.source, event.event_id))
            .fetchone()
        )
        if seen is not None:
            if bytes(seen["body_sha256"]) != digest:
                raise EventConflict(event.source, event.event_id)
            return EventOutcome(
                source=event.source,
                event_id=event.event_id,
                incident_id=int(seen["incident_id"]),
                appeal_id=int(seen["appeal_id"]),
                outcome=str(seen["outcome"]),
                replayed=True,
            )
        source = self.routing.events.sources[event.source]
        incident_type = source.types[event.type]
        conn.execute(_LOCK, (f"citypulse-event-type:{incident_type.value}",))
        existing = self._open_incident(conn, event, incident_type)
        if existing is not None:
            incident_id, appeal_id = existing.id, self._update(conn, event, source, existing)
            outcome = "updated"
        else:
            incident_id, appeal_id = self._open(conn, event, source, incident_type)
            outcome = "opened"
        conn.execute(
            _RECORD,
            {
                "source": event.source,
                "event_id": event.event_id,
                "digest": digest,
                "type": event.type,
                "at": event.occurred_at,
                "key": key_name,
                "incident": incident_id,
                "appeal": appeal_id,
                "outcome": outcome,
                "payload": Jsonb(dict(payload)),
            },
        )
        return EventOutcome(
            source=event.source,
            event_id=event.event_id,
            incident_id=incident_id,
            appeal_id=appeal_id,
            outcome=outcome,
        )

    def _open_incident(
        self, conn: psycopg.Connection[Any], event: SystemEvent, incident_type: EventIncidentType
    ) -> _OpenIncident | None:
        dedup = self.routing.events
        rows = conn.cursor(row_factory=dict_row).execute(
            _OPEN, {"type": incident_type.value, "at": event.occurred_at, "window": dedup.window}
        )
        best: tuple[float, _OpenIncident] | None = None
        for row in rows.fetchall():
            candidate = _OpenIncident(
                id=int(row["id"]),
                severity=int(row["severity"]),
                lat=row["lat"],
                lon=row["lon"],
                address=str(row["address"]),
                device_id=row["device_id"],
            )
            metres = _same_place(event, candidate, dedup.distance_m)
            if metres is not None and (best is None or metres < best[0]):
                best = (metres, candidate)
        return best[1] if best is not None else None

    def _district(self, conn: psycopg.Connection[Any], event: SystemEvent) -> str:
        if event.lat is None or event.lon is None:
            return ""
        return report_district(conn, self.routing, event.lat, event.lon)

    def _open(
        self,
        conn: psycopg.Connection[Any],
        event: SystemEvent,
        source: EventSource,
        incident_type: EventIncidentType,
    ) -> tuple[int, int]:
        route = self.routing.event_route(incident_type)
        severity = event.severity or route.priority
        report = _report(event)
        evidence: dict[str, object] = {
            "source": event.source,
            "device_id": event.device_id,
            "reports": [report],
        }
        params = {
            "type": incident_type.value,
            "source": event.source,
            "lat": event.lat,
            "lon": event.lon,
            "address": event.address,
            "severity": severity,
            "at": event.occurred_at,
            "detector": f"events:{event.source}",
            "evidence": Jsonb(evidence),
        }
        row = conn.execute(_INCIDENT, params).fetchone()
        if row is None:  # pragma: no cover - INSERT ... RETURNING always returns the row
            raise AppealNotFound(0)
        incident_id = int(row[0])
        district = self._district(conn, event)
        locale = self.routing.locale
        facts = self._facts(event, source, district)
        text = self.texts.render(facts, locale=locale)
        note = (
            f"Создано по сообщению: {source.name_ru}, № {event.event_id}"
            if locale == "ru"
            else f"Created from an event of {source.name_en} (event {event.event_id})"
        )
        appeal, _ = create_appeal(
            conn,
            AppealDraft(
                source=AppealSource.SYSTEM,
                sector=route.sector,
                service_code=route.service_code,
                title=text.title,
                description=text.description,
                agency=route.agency,
                priority=max(route.priority, min(4, severity)),
                deadline=route.deadline,
                lat=event.lat,
                lon=event.lon,
                address=event.address,
                district=district,
                locale=locale,
                evidence={"incident_type": incident_type.value, **evidence},
                incident_id=incident_id,
                channel=f"system:{event.source}",
                external_id=event.event_id,
            ),
            note=note,
            actor=f"system:{event.source}",
            connectors=self.connectors,
            routing=self.routing,
        )
        correlate(conn, appeal.id, self.routing.correlation, actor="citypulse", appeal=appeal)
        return incident_id, appeal.id

    def _update(
        self,
        conn: psycopg.Connection[Any],
        event: SystemEvent,
        source: EventSource,
        incident: _OpenIncident,
    ) -> int:
        severity = conn.cursor(row_factory=scalar_row).execute(
            _UPDATE,
            {
                "id": incident.id,
                "at": event.occurred_at,
                "severity": event.severity or 1,
                "report": Jsonb([_report(event)]),
            },
        )
        new_severity = int(severity.fetchone() or incident.severity)
        found = conn.cursor(row_factory=scalar_row).execute(_APPEAL_OF, (incident.id,)).fetchone()
        if found is None:  # pragma: no cover - every system incident is opened with its appeal
            raise AppealNotFound(0)
        appeal = load_appeal(conn, int(found))
        locale = self.routing.locale
        facts = self._facts(event, source, appeal.district)
        note = self.texts.repeated_note(facts, locale=locale)
        priority = min(4, max(appeal.priority, new_severity))
        if priority > appeal.priority:
            conn.execute(_PRIORITY, (priority, appeal.id))
            note += ". " + self.texts.escalated_note(priority, locale=locale)
        record_update(
            conn,
            load_appeal(conn, appeal.id),  # its new priority; the status is unchanged
            note,
            f"system:{event.source}",
            connectors=self.connectors,
            routing=self.routing,
        )
        return appeal.id
