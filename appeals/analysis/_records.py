"""Tension points as records, and how they are read back (sql/0020).

``facts`` holds the numbers a point's explanation is written from; the keys each kind
fills are its contract with the texts:

- surge: ``count`` (appeals in the window), ``window_h`` (hours), ``expected`` (the
  cell's seasonal normal for that window), ``normal_low`` and ``normal_high`` (the usual
  range for that window), ``cell`` ("sector" or "service");
- cluster: ``count``, ``radius_m``, ``window_h``, ``address`` (nearest known address, may
  be empty), ``expected`` (the spot's normal count of the service within ``radius_m`` in a
  window, which ``count`` exceeded);
- recurrence: ``count`` (appeals on the place or device within ``days``), ``days``,
  ``address`` (may be empty).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


class TensionKind(enum.StrEnum):
    """What kind of tension a point is."""

    SURGE = "surge"
    CLUSTER = "cluster"
    RECURRENCE = "recurrence"


@dataclass(frozen=True, slots=True)
class TensionPoint:
    """One tension point with its member appeals; ``ended_at`` is None while active."""

    id: int
    kind: TensionKind
    key: str
    sector: str
    district: str
    service_code: str
    device_id: str | None
    lat: float | None
    lon: float | None
    score: float
    started_at: datetime
    ended_at: datetime | None
    detected_at: datetime
    facts: Mapping[str, Any] = field(default_factory=dict)
    appeal_ids: tuple[int, ...] = ()

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True)
class TensionQuery:
    """Which points to read: those overlapping [since, until), optionally narrowed."""

    since: datetime | None = None
    until: datetime | None = None
    sector: str | None = None
    district: str | None = None
    kind: TensionKind | None = None
    limit: int = 500


_SELECT = """
SELECT p.id, p.kind, p.key, p.sector, p.district, p.service_code, p.device_id, p.lat,
       p.lon, p.score, p.started_at, p.ended_at, p.detected_at, p.facts,
       coalesce(array_agg(m.appeal_id ORDER BY m.appeal_id)
                FILTER (WHERE m.appeal_id IS NOT NULL), '{}') AS appeal_ids
FROM tension_points p
LEFT JOIN tension_members m ON m.tension_id = p.id
WHERE (%(until)s::timestamptz IS NULL OR p.started_at < %(until)s)
  AND (%(since)s::timestamptz IS NULL OR p.ended_at IS NULL OR p.ended_at >= %(since)s)
  AND (%(sector)s::text IS NULL OR p.sector = %(sector)s)
  AND (%(district)s::text IS NULL OR p.district = %(district)s)
  AND (%(kind)s::text IS NULL OR p.kind = %(kind)s)
GROUP BY p.id
ORDER BY p.started_at DESC, p.id DESC
LIMIT %(limit)s
"""


def load_points(conn: psycopg.Connection[Any], query: TensionQuery) -> list[TensionPoint]:
    """The points overlapping the query's period, newest first, with their appeals."""
    params = {
        "since": query.since,
        "until": query.until,
        "sector": query.sector,
        "district": query.district,
        "kind": None if query.kind is None else query.kind.value,
        "limit": query.limit,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_SELECT, params)
        return [
            TensionPoint(
                id=row["id"],
                kind=TensionKind(row["kind"]),
                key=row["key"],
                sector=row["sector"],
                district=row["district"],
                service_code=row["service_code"],
                device_id=row["device_id"],
                lat=row["lat"],
                lon=row["lon"],
                score=float(row["score"]),
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                detected_at=row["detected_at"],
                facts=row["facts"],
                appeal_ids=tuple(row["appeal_ids"]),
            )
            for row in cur
        ]
