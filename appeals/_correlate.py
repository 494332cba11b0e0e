"""Correlation: a citizen's report and a sensor appeal about the same problem meet.

Two appeals of the same sector block are linked when they are within
``Correlation.distance_m`` (haversine on WGS 84 coordinates) and in time: a citizen's
report is a moment (``requested_at``), a sensor appeal lasts from ``requested_at`` until
it is resolved or closed, and the two must come within ``Correlation.window`` of each other.

- citizen + sensor: the report is linked ``confirms`` to the sensor appeal and marked
  ``confirmed_by_sensors``;
- citizen + system (another system's event): the same, objective monitoring confirming
  the report as our sensors do;
- citizen + citizen: the newer is linked ``duplicate`` to the older;
- sensor + sensor, sensor + system: not linked here (two witnesses of one fault are the
  detectors' and the events intake's job).

Everything linked joins one group whose ``group_id`` is the group's first (lowest) appeal
id; the first appeal itself keeps ``group_id`` NULL.  Closed and rejected appeals are
never linked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import class_row, scalar_row

from appeals._errors import AppealNotFound
from appeals._routing import Correlation
from appeals._store import add_event, load_appeal
from citypulse import Appeal, AppealSource

_M_PER_DEG_LAT = 111_320.0
_EARTH_RADIUS_M = 6_371_008.8

# The appeal's own facts are parameters, so the planner can use the (sector, lat, lon)
# index for the bounding box and compute distances for the few rows inside it only.
_CANDIDATES = """
SELECT a.id, a.source, coalesce(a.group_id, a.id) AS root, d.m AS distance_m
FROM appeals a
CROSS JOIN LATERAL (SELECT 2 * %(radius)s * asin(least(1.0, sqrt(
        power(sin(radians(a.lat - %(lat)s) / 2), 2)
        + cos(radians(%(lat)s)) * cos(radians(a.lat))
          * power(sin(radians(a.lon - %(lon)s) / 2), 2))))) AS d (m)
WHERE a.sector = %(sector)s
  AND a.status NOT IN ('closed', 'rejected')
  AND a.lat IS NOT NULL
  AND a.lat BETWEEN %(lat)s - %(dlat)s AND %(lat)s + %(dlat)s
  AND a.lon BETWEEN %(lon)s - %(dlon)s AND %(lon)s + %(dlon)s
  AND a.id <> %(id)s
  AND (a.source = 'citizen' OR %(source)s = 'citizen')
  AND a.requested_at - %(window)s <= coalesce(%(until)s, 'infinity'::timestamptz)
  AND %(requested_at)s - %(window)s <= CASE WHEN a.source <> 'citizen'
        THEN coalesce(a.resolved_at, a.closed_at, 'infinity') ELSE a.requested_at END
  AND d.m <= %(distance)s
ORDER BY d.m, a.id
"""
_LINK = """
INSERT INTO appeal_links (appeal_id, linked_id, reason, distance_m) VALUES (%s, %s, %s, %s)
ON CONFLICT (appeal_id, linked_id) DO NOTHING
RETURNING appeal_id
"""
_CONFIRM = """
UPDATE appeals SET confirmed_by_sensors = true, updated_at = now()
WHERE id = %s AND NOT confirmed_by_sensors
RETURNING status
"""
_GROUP = """
UPDATE appeals SET group_id = CASE WHEN id = %(root)s THEN NULL ELSE %(root)s END,
                   updated_at = now()
WHERE (id = ANY(%(ids)s) OR group_id = ANY(%(ids)s))
  AND group_id IS DISTINCT FROM CASE WHEN id = %(root)s THEN NULL ELSE %(root)s END
"""


@dataclass(frozen=True, slots=True)
class _Candidate:
    """An open appeal near this one, as ``_CANDIDATES`` selects it."""

    id: int
    source: str
    root: int  # its group's root appeal (itself when ungrouped)
    distance_m: float


@dataclass(frozen=True, slots=True)
class Link:
    appeal_id: int
    linked_id: int
    reason: str
    distance_m: float


@dataclass(frozen=True, slots=True)
class Correlated:
    """What one correlation run linked, and the group the appeal is now in."""

    links: tuple[Link, ...]
    group_root: int


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (the same formula the SQL uses)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def correlate(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    policy: Correlation,
    *,
    actor: str = "citypulse",
    appeal: Appeal | None = None,
) -> Correlated:
    """Link ``appeal_id`` with the appeals about the same problem (caller's transaction);
    ``appeal``, when the caller has it, saves reading it again."""
    if appeal is None or appeal.id != appeal_id:
        try:
            appeal = load_appeal(conn, appeal_id)
        except AppealNotFound:
            return Correlated((), appeal_id)
    root_of_me = appeal.group_id or appeal.id
    if appeal.lat is None or appeal.lon is None:
        return Correlated((), root_of_me)
    source = appeal.source
    dlat = policy.distance_m / _M_PER_DEG_LAT
    dlon = dlat / max(0.01, math.cos(math.radians(appeal.lat)))
    # A sensor or system appeal lasts until resolved or closed; a citizen's report is a
    # moment.
    until = (
        appeal.requested_at
        if source is AppealSource.CITIZEN
        else appeal.resolved_at or appeal.closed_at
    )
    candidates = conn.cursor(row_factory=class_row(_Candidate))
    rows = candidates.execute(
        _CANDIDATES,
        {
            "id": appeal_id,
            "source": source.value,
            "sector": appeal.sector,
            "lat": appeal.lat,
            "lon": appeal.lon,
            "requested_at": appeal.requested_at,
            "until": until,
            "radius": _EARTH_RADIUS_M,
            "dlat": dlat,
            "dlon": dlon,
            "window": policy.window,
            "distance": policy.distance_m,
        },
    ).fetchall()
    links: list[Link] = []
    roots = {root_of_me}
    for other in rows:
        other_id, metres = other.id, other.distance_m
        roots.add(int(other.root))
        other_source = AppealSource(other.source)
        if other_source is source:  # two citizens: the newer duplicates the older
            new, old = max(appeal_id, other_id), min(appeal_id, other_id)
            link = Link(new, old, "duplicate", float(metres))
        else:
            citizen, sensor = (
                (appeal_id, other_id) if source is AppealSource.CITIZEN else (other_id, appeal_id)
            )
            link = Link(citizen, sensor, "confirms", float(metres))
            statuses = conn.cursor(row_factory=scalar_row)
            confirmed = statuses.execute(_CONFIRM, (citizen,)).fetchone()
            if confirmed is not None:  # the history keeps the status; the note says why
                sensors = AppealSource.SENSOR in (source, other_source)
                by = "датчиками" if sensors else "данными объективного контроля"
                add_event(
                    conn,
                    citizen,
                    str(confirmed),
                    f"Подтверждено {by}: обращение №{sensor}, {round(metres)} м",
                    actor,
                )
        inserted = conn.execute(
            _LINK, (link.appeal_id, link.linked_id, link.reason, link.distance_m)
        ).fetchone()
        if inserted is not None:
            links.append(link)
    root = min(roots)
    if rows:
        ids = sorted(roots | {appeal_id} | {int(other.id) for other in rows})
        conn.execute(_GROUP, {"root": root, "ids": ids})
    return Correlated(tuple(links), root)
