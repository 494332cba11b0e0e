"""Appeals for the console tests: a sensor appeal with the device's readings around its
incident, and citizens' reports, written as the detect worker and the API write them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from appeals import AppealWriter, Report, load_routing, submit_report
from citypulse import IncidentType
from citypulse.db import connect, load_devices
from tests.appeals._db import insert_incident
from tests.appeals._devices import make_incident

STATION = "eco-leninsky-1"  # Пост наблюдения «Театральная», 54.51.. 36.25..
PM25_LIMIT = 35.0


def air_appeal(db_url: str, *, started_at: datetime | None = None) -> int:
    """A PM2.5 exceedance at :data:`STATION`, with a reading every 5 minutes from 3 hours
    before it started (rising through the limit) to 1 hour after; returns the appeal id."""
    start = (started_at or datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    readings = []
    for i in range(-36, 13):
        t = start + timedelta(minutes=5 * i)
        value = 12.0 + 4 * math.sin(i / 3) if i < -2 else 25.0 + 7.0 * (i + 2)
        readings.append((t, STATION, min(value, 95.0)))
    with connect(db_url) as conn:
        conn.execute(
            "SELECT citypulse_ensure_partitions(%s, %s)", (readings[0][0], readings[-1][0])
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ecology_readings (time, device_id, pm25) VALUES (%s, %s, %s)",
                readings,
            )
        incident = insert_incident(
            conn,
            make_incident(
                IncidentType.AIR_QUALITY_EXCEEDANCE,
                STATION,
                value=80.0,
                limit_value=PM25_LIMIT,
                unit="µg/m³",
                evidence={"metric": "pm25", "pollutant": "pm25"},
                started_at=start,
                minutes=40,
            ),
        )
        writer = AppealWriter(routing=load_routing(), connectors=("webhook",))
        appeal_id = writer.open(conn, incident, load_devices(conn)[STATION])
        conn.commit()
    return appeal_id


def citizen_report(
    db_url: str,
    description: str,
    *,
    service_code: str = "air-quality",
    lat: float = 54.5087,
    lon: float = 36.2492,
    key: str | None = None,
    contact: dict[str, str] | None = None,
) -> int:
    """A citizen's report as ``POST requests`` queues it; returns the appeal id."""
    with connect(db_url) as conn:
        appeal, _ = submit_report(
            conn,
            Report(
                service_code=service_code,
                description=description,
                lat=lat,
                lon=lon,
                idempotency_key=key,
                contact=contact or {},
            ),
            routing=load_routing(),
            connectors=("webhook",),
            channel="api:test",
            actor="test-reporter",
        )
        conn.commit()
    return appeal.id
