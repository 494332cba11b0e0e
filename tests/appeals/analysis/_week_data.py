"""A small known week of appeals (ISO week 2026-W48, 23.11-29.11.2026 in Moscow) and the
weeks before it, written straight into a migrated database, with the figures a reader
counts by hand (see the comments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from citypulse.db import connect, upsert_devices
from simulator import preset_city

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ROADS, HOUSING, ECOLOGY = "Дороги", "ЖКХ", "Экология"
LENINSKY, OKTYABRSKY, MOSKOVSKY = "Ленинский округ", "Октябрьский округ", "Московский округ"


def msk(day: int, month: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


_APPEAL = """
INSERT INTO appeals (source, sector, service_code, title, district, status, agency,
                     requested_at, expected_at, accepted_at, resolved_at, incident_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
"""
_INCIDENT = """
INSERT INTO incidents (type, device_id, source_system, severity, started_at, last_alarm_at,
                       detector, score, threshold, status, resolved_at)
VALUES (%s, %s, %s, 2, %s, %s, 'test', 0.9, 0.5, 'resolved', %s) RETURNING id
"""


def _add(
    conn: psycopg.Connection[Any],
    at: datetime,
    sector: str,
    district: str,
    *,
    source: str = "citizen",
    status: str = "new",
    deadline: timedelta = timedelta(days=5),
    resolved: datetime | None = None,
) -> int:
    incident = None
    if source != "citizen":
        device = preset_city().devices()[0].id if source == "sensor" else None
        system = "bezopasny-gorod" if source == "system" else None
        row = conn.execute(_INCIDENT, ("road_accident", device, system, at, at, at)).fetchone()
        assert row is not None
        incident = row[0]
    row = conn.execute(
        _APPEAL,
        (source, sector, "road-damage", "Яма", district, status, "Управление", at,
         at + deadline, at if status != "new" else None, resolved, incident),
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def write_week(db_url: str) -> None:
    """This week (W48): 5 appeals (3 citizens', 1 sensor's, 1 system's); resolved during
    it 3; past their deadline 2.  The week before (W47): 2 received, both past their
    deadline (one resolved late, in W48); 1 resolved.  Дороги: 4 this week against 1, 0, 1, 2 (W44..W47): +300 %.
    Ленинский округ: 3 against 2, 0, 1, 2: +140 %.  Экология: 0 against 1, 0, 0, 0."""
    with connect(db_url) as conn:
        upsert_devices(conn, preset_city().devices())
        # W48 -- Monday 00:05 in Moscow is still Sunday in UTC: counted on Monday
        _add(conn, msk(23, 11, 0, 5), ROADS, LENINSKY, status="resolved",
             resolved=msk(24, 11, 10))  # fmt: skip
        _add(conn, msk(25, 11, 10), ROADS, LENINSKY, deadline=timedelta(hours=2))  # overdue
        _add(conn, msk(25, 11, 11), ROADS, LENINSKY, status="rejected",
             deadline=timedelta(hours=1))  # fmt: skip
        _add(conn, msk(26, 11, 9), ROADS, OKTYABRSKY, source="sensor", status="resolved",
             deadline=timedelta(hours=8), resolved=msk(26, 11, 20))  # fmt: skip  # late
        _add(conn, msk(29, 11, 23, 30), HOUSING, MOSKOVSKY, source="system",
             deadline=timedelta(days=12))  # fmt: skip
        # W49: not this week
        _add(conn, msk(30, 11, 0, 10), HOUSING, MOSKOVSKY)
        # W47, the week before: one resolved late in W48, one open past its deadline
        _add(conn, msk(17, 11, 9), ROADS, LENINSKY, status="resolved", resolved=msk(24, 11, 12))
        _add(conn, msk(21, 11, 9), ROADS, LENINSKY, deadline=timedelta(days=1))
        # W46: resolved in W47
        _add(conn, msk(10, 11, 9), ROADS, LENINSKY, status="resolved", resolved=msk(18, 11, 9))
        # W44, and W43 (outside the trend's four weeks)
        _add(conn, msk(27, 10, 9), ROADS, LENINSKY)
        _add(conn, msk(28, 10, 9), ECOLOGY, LENINSKY)
        _add(conn, msk(20, 10, 9), ROADS, LENINSKY)
        conn.execute(
            "INSERT INTO tension_points (kind, key, sector, district, score, started_at,"
            " ended_at, detected_at, facts) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            ("surge", "surge:roads:leninsky", ROADS, LENINSKY, 4.2, msk(25, 11, 8),
             msk(26, 11, 8), msk(25, 11, 10),
             Jsonb({"count": 37, "window_h": 24, "expected": 11.5, "normal_low": 9,
                    "normal_high": 14, "cell": "sector"})),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO tension_points (kind, key, sector, district, score, started_at,"
            " ended_at, detected_at, facts) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            ("recurrence", "place:old", HOUSING, MOSKOVSKY, 2.0, msk(1, 11, 8),
             msk(5, 11, 8), msk(1, 11, 9), Jsonb({"count": 4, "days": 30, "address": ""})),
        )  # fmt: skip
        conn.commit()
