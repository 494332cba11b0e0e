"""Located appeals, what clusters (appeals.analysis._tension_clusters) and recurrences
(appeals.analysis._tension_recur) read: the window's appeals with a place or a device,
grouped by service, and a group's facts (sector, district, address, centre).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg.rows import dict_row

from appeals.analysis._tension_base import most_common

#: The window's appeals with a place (or, for recurrences, a device): all of them, or
#: only those of the given devices and of the given places.  Places are looked up on a
#: grid of squares the place radius wide (x scaled by cos(latitude)).
_APPEALS = """
SELECT a.id, coalesce(a.group_id, a.id) AS issue, a.source, a.sector, a.service_code,
       a.district, a.lat, a.lon, a.address, a.requested_at, i.device_id,
       least(CASE WHEN a.resolved_at <= %(now)s THEN a.resolved_at END,
             CASE WHEN a.closed_at <= %(now)s THEN a.closed_at END) AS done_at
FROM appeals a
LEFT JOIN incidents i ON i.id = a.incident_id
WHERE a.requested_at > %(start)s AND a.requested_at <= %(now)s
  AND (a.lat IS NOT NULL OR (%(with_devices)s AND i.device_id IS NOT NULL))
  AND (%(everything)s
       OR i.device_id = ANY(%(devices)s)
       OR (i.device_id IS NULL AND a.lat IS NOT NULL
           AND (a.service_code, floor(a.lat / %(cell)s)::int,
                floor(a.lon * cos(radians(a.lat)) / %(cell)s)::int)
               IN (SELECT * FROM unnest(%(services)s::text[], %(ys)s::int[], %(xs)s::int[]))))
ORDER BY a.requested_at, a.id
"""

Row = dict[str, Any]

#: When the region's appeals begin: a normal cannot look back before it.
FIRST_APPEAL: Final = "SELECT min(requested_at) AS first FROM appeals"
#: The smallest district extent assumed for a district's density.
MIN_DISTRICT_KM2: Final = 1.0


def box_km2(lat0: float, lat1: float, lon0: float, lon1: float) -> float:
    """The area of a latitude/longitude box in km² (east-west scaled at its middle
    latitude), at least :data:`MIN_DISTRICT_KM2`: a district's extent."""
    km_lat = (lat1 - lat0) * 111.32
    km_lon = (lon1 - lon0) * 111.32 * math.cos(math.radians((lat0 + lat1) / 2))
    return max(MIN_DISTRICT_KM2, km_lat * km_lon)


def located(
    conn: psycopg.Connection[Any],
    start: datetime,
    now: datetime,
    *,
    devices: bool,
    near: tuple[set[str], set[tuple[str, int, int]], float] | None = None,
) -> list[Row]:
    """The window's located appeals (and device appeals when ``devices``); with ``near``
    (devices, grid squares, square size) only those of these devices and squares."""
    found, squares, cell = near if near is not None else (set(), set(), 1.0)
    params = {
        "start": start,
        "now": now,
        "with_devices": devices,
        "everything": near is None,
        "devices": sorted(found),
        "cell": cell,
        "services": [s for s, _, _ in squares],
        "ys": [y for _, y, _ in squares],
        "xs": [x for _, _, x in squares],
    }
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_APPEALS, params)
        return cur.fetchall()


def by_service(rows: Sequence[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in rows:
        if r["lat"] is not None and r["lon"] is not None:
            out.setdefault(r["service_code"], []).append(r)
    return out


def place_facts(rows: Sequence[Row]) -> tuple[str, str, str, float | None, float | None]:
    sector = most_common(r["sector"] for r in rows)
    district = most_common(r["district"] for r in rows)
    address = most_common(r["address"] for r in rows)
    placed = [r for r in rows if r["lat"] is not None and r["lon"] is not None]
    if not placed:
        return sector, district, address, None, None
    lat = sum(r["lat"] for r in placed) / len(placed)
    lon = sum(r["lon"] for r in placed) / len(placed)
    return sector, district, address, round(lat, 6), round(lon, 6)
