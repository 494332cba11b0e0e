"""A small set of appeals with known timestamps, written straight into a real database:
the ratings tests compute every figure from these by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from citypulse.db import upsert_devices
from simulator import preset_city

SINCE = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday, 03:00 МСК
UNTIL = SINCE + timedelta(days=7)
NOW = SINCE + timedelta(days=8)
# tl-kirova-teatralnaya stands at 54.5065, 36.2480.
LAT, LON = 54.5065, 36.2480
DEVICE = "tl-kirova-teatralnaya"
M_PER_DEG = 111_320.0

_INCIDENT = """
INSERT INTO incidents (type, device_id, source_system, severity, status, started_at,
                       last_alarm_at, resolved_at, detector, score, threshold)
VALUES (%(type)s, %(device)s, %(system)s, 2, %(status)s, %(at)s, %(at)s,
        CASE WHEN %(status)s = 'open' THEN NULL ELSE %(at)s::timestamptz END, 'test', 0.9, 0.5)
RETURNING id
"""
_APPEAL = """
INSERT INTO appeals (source, sector, service_code, title, agency, lat, lon, status,
                     requested_at, expected_at, accepted_at, resolved_at, closed_at,
                     incident_id, group_id)
VALUES (%(source)s, %(sector)s, %(service)s, 't', %(agency)s, %(lat)s, %(lon)s,
        %(status)s, %(requested)s, %(expected)s, %(accepted)s, %(resolved)s, %(closed)s,
        %(incident)s, %(group)s)
RETURNING id
"""


def at(hours: float) -> datetime:
    return SINCE + timedelta(hours=hours)


def north(metres: float) -> float:
    return LAT + metres / M_PER_DEG


@dataclass
class Builder:
    conn: psycopg.Connection[Any]

    def __post_init__(self) -> None:
        upsert_devices(self.conn, preset_city().devices())

    def appeal(
        self,
        source: str,
        *,
        agency: str = "А",
        sector: str = "Дороги",
        service: str = "pothole",
        lat: float | None = LAT,
        lon: float | None = LON,
        status: str = "new",
        requested: float,
        expected: float | None = None,
        accepted: float | None = None,
        resolved: float | None = None,
        closed: float | None = None,
        device: str | None = None,
        group: int | None = None,
        events: tuple[tuple[float, str], ...] = (),
    ) -> int:
        """An appeal (hours after SINCE for every time); a sensor appeal gets an incident
        on ``device``, a system appeal one from a source system."""
        incident = None
        if source != "citizen":
            row = self.conn.execute(
                _INCIDENT,
                {
                    "type": "stuck_phase" if source == "sensor" else "road_accident",
                    "device": device if source == "sensor" else None,
                    "system": None if source == "sensor" else "video",
                    "status": "open" if resolved is None and closed is None else "closed",
                    "at": at(requested),
                },
            ).fetchone()
            assert row is not None
            incident = int(row[0])

        def hours(h: float | None) -> datetime | None:
            return None if h is None else at(h)

        row = self.conn.execute(
            _APPEAL,
            {
                "source": source,
                "sector": sector,
                "service": service,
                "agency": agency,
                "lat": lat,
                "lon": lon,
                "status": status,
                "requested": at(requested),
                "expected": hours(expected),
                "accepted": hours(accepted),
                "resolved": hours(resolved),
                "closed": hours(closed),
                "incident": incident,
                "group": group,
            },
        ).fetchone()
        assert row is not None
        appeal_id = int(row[0])
        for h, state in ((requested, "new"), *events):
            self.conn.execute(
                "INSERT INTO appeal_events (appeal_id, time, status) VALUES (%s, %s, %s)",
                (appeal_id, at(h), state),
            )
        return appeal_id

    def link(self, citizen: int, sensor: int) -> None:
        self.conn.execute(
            "INSERT INTO appeal_links (appeal_id, linked_id, reason) VALUES (%s, %s, 'confirms')",
            (citizen, sensor),
        )
