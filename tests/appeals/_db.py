"""Database helpers for the connectors tests: devices and incidents as the detect worker writes them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from appeals import AppealWriter, load_routing
from citypulse import Device, Incident, IncidentType
from citypulse.db import connect, load_devices, upsert_devices
from tests.appeals._devices import city_devices, make_incident

_INSERT_INCIDENT = """
INSERT INTO incidents (type, device_id, severity, started_at, last_alarm_at, detector,
                       score, threshold, value, limit_value, unit, evidence)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id
"""


def register_city(conn: psycopg.Connection[Any]) -> dict[str, Device]:
    devices = city_devices()
    upsert_devices(conn, devices.values())
    return devices


def insert_incident(conn: psycopg.Connection[Any], incident: Incident) -> Incident:
    row = conn.execute(
        _INSERT_INCIDENT,
        (
            incident.type.value,
            incident.device_id,
            incident.severity,
            incident.started_at,
            incident.last_alarm_at,
            incident.detector,
            incident.score,
            incident.threshold,
            incident.value,
            incident.limit_value,
            incident.unit,
            Jsonb(dict(incident.evidence)),
        ),
    ).fetchone()
    assert row is not None
    return replace(incident, id=int(row[0]))


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(
        psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table))
    ).fetchone()
    assert row is not None
    return int(row[0])


def sensor_appeals(
    db_url: str, *specs: tuple[IncidentType, str], connectors: tuple[str, ...] = ("webhook",)
) -> list[int]:
    """Open an incident on each (type, device) and its appeal, as the detect worker does:
    each seen a quarter of an hour ago (the appeal is dated by its alarm, 8 minutes ago)."""
    writer = AppealWriter(routing=load_routing(), connectors=connectors)
    ids = []
    seen = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15)
    with connect(db_url) as conn:
        devices = load_devices(conn)
        for incident_type, device_id in specs:
            incident = insert_incident(
                conn, make_incident(incident_type, device_id, started_at=seen)
            )
            ids.append(writer.open(conn, incident, devices[device_id]))
        conn.commit()
    return ids
