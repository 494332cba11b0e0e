"""AppealWriter: incidents become appeals, in the transaction that records the incident.

It implements citypulse's :class:`~citypulse.IncidentListener`:

- OPENED: an appeal (source ``sensor``) routed by incident type and device kind, with
  texts in the region's language, the device's location, a deadline, evidence (the
  incident's facts and a Grafana link to the device's panel over the incident's time),
  its first history entry, one outbox row per configured connector, then correlation
  with citizens' reports nearby.  An incident that already has an appeal is left alone,
  so a retried transaction cannot create two.
- ESCALATED: the appeal's priority rises to the incident's severity (never falls), noted
  in the history («Эскалация в 12:52 МСК: … с 10:28 МСК, уже 2 ч 24 мин; …») and sent
  as an update.
- RESOLVED: the history notes «Датчики: восстановлено в 12:52 МСК, всего 2 ч 24 мин …».
  Where the route says ``auto_resolve`` (the default) an appeal still new, accepted or
  in progress becomes ``resolved`` — sensors are the best witness that a stuck signal or
  smog is over — and the update is sent; an operator still closes it, and an appeal an
  operator already resolved, closed or rejected keeps its status.

Nothing here commits: the detect worker owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.rows import scalar_row

from appeals._correlate import correlate
from appeals._routing import Routing, load_routing
from appeals._store import (
    AppealDraft,
    add_event,
    create_appeal,
    load_appeal,
    record_update,
    transition,
)
from appeals._texts import Texts
from citypulse import (
    AppealSource,
    AppealStatus,
    Device,
    DeviceKind,
    Incident,
    IncidentChange,
    Settings,
)

#: Grafana dashboard uid showing each device kind (fixed uids shared with ``grafana/``).
DASHBOARDS = {
    DeviceKind.TRAFFIC_LIGHT: "citypulse-intersections",
    DeviceKind.CAMERA: "citypulse-traffic",
    DeviceKind.PARKING: "citypulse-parking",
    DeviceKind.ECOLOGY: "citypulse-air",
}
_MARGIN = timedelta(minutes=30)
_BY_INCIDENT = "SELECT id FROM appeals WHERE incident_id = %s FOR UPDATE"
_PRIORITY = "UPDATE appeals SET priority = %s, updated_at = now() WHERE id = %s"


def grafana_link(base_url: str, device: Device, start: datetime, end: datetime) -> str:
    """``{grafana}/d/{uid}?var-device=…&from=…&to=…`` with half an hour either side."""
    uid = DASHBOARDS.get(device.kind, "citypulse-overview")
    start_ms = int((start - _MARGIN).timestamp() * 1000)
    end_ms = int((end + _MARGIN).timestamp() * 1000)
    return (
        f"{base_url.rstrip('/')}/d/{uid}?var-device={quote(device.id, safe='')}"
        f"&from={start_ms}&to={end_ms}"
    )


class AppealWriter:
    """Turns incident changes into appeals, history and outbox rows (see the module doc)."""

    def __init__(
        self,
        *,
        routing: Routing,
        connectors: Sequence[str] = (),
        grafana_url: str = "http://localhost:3000",
        locale: str | None = None,
        actor: str = "citypulse",
    ) -> None:
        self.routing = routing
        self.connectors = tuple(connectors)
        self.grafana_url = grafana_url
        self.locale = locale or routing.locale
        self.actor = actor
        self.texts = Texts(timezone=routing.timezone, districts=routing.districts)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppealWriter:
        """The writer ``citypulse detect`` passes to the worker as its listener: routing
        from ``CITYPULSE_ROUTING_FILE``, outbox rows for ``CITYPULSE_CONNECTORS``, texts in
        ``CITYPULSE_LOCALE`` (else the routing file's ``locale``)."""
        return cls(
            routing=load_routing(settings.routing_file),
            connectors=settings.connectors,
            grafana_url=settings.grafana_url,
            locale=settings.locale,
        )

    def incident_changed(
        self,
        conn: psycopg.Connection[Any],
        incident: Incident,
        device: Device,
        change: IncidentChange,
    ) -> None:
        if change is IncidentChange.OPENED:
            self.open(conn, incident, device)
        elif change is IncidentChange.ESCALATED:
            self.escalate(conn, incident, device)
        elif change is IncidentChange.RESOLVED:
            self.resolve(conn, incident, device)

    def _existing(self, conn: psycopg.Connection[Any], incident: Incident) -> int | None:
        found = conn.cursor(row_factory=scalar_row).execute(_BY_INCIDENT, (incident.id,)).fetchone()
        return int(found) if found is not None else None

    def open(self, conn: psycopg.Connection[Any], incident: Incident, device: Device) -> int:
        """Create the incident's appeal (or return the one it already has)."""
        existing = self._existing(conn, incident)
        if existing is not None:
            return existing
        route = self.routing.route(incident.type, device.kind)
        text = self.texts.render(incident, device, locale=self.locale)
        evidence: dict[str, object] = {
            "incident_type": incident.type.value,
            "detector": incident.detector,
            "score": incident.score,
            "threshold": incident.threshold,
            "severity": incident.severity,
            "value": incident.value,
            "limit_value": incident.limit_value,
            "unit": incident.unit,
            "started_at": incident.started_at.isoformat(),
            "last_alarm_at": incident.last_alarm_at.isoformat(),
            "device_id": device.id,
            "device_kind": device.kind.value,
            "related_devices": list(incident.related_devices),
            "facts": dict(incident.evidence),
            "grafana_url": grafana_link(
                self.grafana_url, device, incident.started_at, incident.last_alarm_at
            ),
        }
        note = (
            f"Создано автоматически по инциденту №{incident.id}"
            if self.locale == "ru"
            else f"Created automatically from incident {incident.id}"
        )
        appeal, _ = create_appeal(
            conn,
            AppealDraft(
                source=AppealSource.SENSOR,
                sector=route.sector,
                service_code=route.service_code,
                title=text.title,
                description=text.description,
                agency=route.agency,
                priority=max(route.priority, min(4, incident.severity)),
                deadline=route.deadline,
                lat=device.lat,
                lon=device.lon,
                address=device.address,
                district=self.routing.district_name(device.district),
                locale=self.locale,
                evidence=evidence,
                incident_id=incident.id,
                # dated by its evidence: the alarm that opened the incident
                requested_at=incident.last_alarm_at,
            ),
            note=note,
            actor=self.actor,
            connectors=self.connectors,
            routing=self.routing,
        )
        correlate(conn, appeal.id, self.routing.correlation, actor=self.actor, appeal=appeal)
        return appeal.id

    def escalate(self, conn: psycopg.Connection[Any], incident: Incident, device: Device) -> None:
        appeal_id = self._existing(conn, incident)
        if appeal_id is None:  # the listener joined after the incident opened
            self.open(conn, incident, device)
            return
        appeal = load_appeal(conn, appeal_id)
        priority = min(4, max(appeal.priority, incident.severity))
        if priority <= appeal.priority:
            return
        conn.execute(_PRIORITY, (priority, appeal_id))
        note = self.texts.escalated_note(incident, priority, device=device, locale=self.locale)
        record_update(
            conn,
            load_appeal(conn, appeal_id),  # its new priority; the status is unchanged
            note,
            self.actor,
            connectors=self.connectors,
            routing=self.routing,
            at=incident.last_alarm_at,  # the alarm that escalated it
        )

    def resolve(self, conn: psycopg.Connection[Any], incident: Incident, device: Device) -> None:
        appeal_id = self._existing(conn, incident)
        if appeal_id is None:
            return
        appeal = load_appeal(conn, appeal_id)
        note = self.texts.resolved_note(incident, device=device, locale=self.locale)
        route = self.routing.route(incident.type, device.kind)
        if route.auto_resolve and appeal.status.is_open:
            transition(
                conn,
                appeal_id,
                AppealStatus.RESOLVED,
                note=note,
                actor="sensors",
                connectors=self.connectors,
                routing=self.routing,
                at=incident.resolved_at,
            )
        else:
            add_event(
                conn, appeal_id, appeal.status.value, note, "sensors", at=incident.resolved_at
            )
