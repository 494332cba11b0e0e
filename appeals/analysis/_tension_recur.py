"""Recurrences: a device or a place that keeps coming back within ``days`` (30).

Times it came back: its first appeal, each appeal opened when every earlier one there was
already resolved or closed, and each reopening (an appeal taken back to work from
resolved or closed, appeal_events).  Judged at ``now`` over the trailing ``days``; the
point ends when the count falls below ``min_count``.  Only what was known at ``now``
counts (a resolution recorded later is not yet one).

- **A device** (sensor and system appeals: the incident's device) recurs when it comes
  back ``min_count`` times: each of its appeals is a fault of its own, never a
  coincidence.
- **A place** is a disc of ``radius_m`` round the first appeal of a service there (later
  appeals join the earliest disc they fall in, so discs never chain along a street).
  Citizens' appeals are independent: where a service is common, a disc sees several in
  30 days by chance, each after the one before was resolved.  So a place recurs when it
  comes back ``min_count`` times **and** either one of its appeals was reopened (no
  coincidence reopens an appeal) or its other appeals are more than chance brings to
  that disc: with ``expected`` the disc's normal over the window, P(Poisson(expected) ≥
  comebacks − 1) ≤ ``alpha``.  ``expected`` is what the service's issues in the
  district over the window, spread evenly over the district's extent (the box its
  located appeals span, at least 1 km², as the clusters' floor), bring to a disc: the
  place's own appeals are in it but diluted, and a place that is always busy is still a
  place that keeps coming back.  ``alpha`` shares the recurrences' false-alarm budget
  (``false_per_100_cell_weeks``) among the places of the service in the district that
  begin in a week (Bonferroni).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from appeals.analysis._records import TensionKind
from appeals.analysis._tension_base import Active, Ending, Finding, most_common
from appeals.analysis._tension_places import (
    FIRST_APPEAL,
    Row,
    box_km2,
    by_service,
    located,
    place_facts,
)
from detectors import poisson_quantile

_M_PER_DEG = 111_320.0


@dataclass(frozen=True, slots=True)
class RecurrenceConfig:
    min_count: int = 3
    radius_m: float = 50.0
    days: int = 30
    #: the recurrences' share of the false-alarm budget, per 100 cell-weeks (service ×
    #: district)
    false_per_100_cell_weeks: float = 0.2


#: What changed since the last look (new appeals, reopenings) or holds an active point.
_TOUCHED = """
SELECT DISTINCT i.device_id, a.service_code, floor(a.lat / %(cell)s)::int AS gy,
       floor(a.lon * cos(radians(a.lat)) / %(cell)s)::int AS gx
FROM appeals a LEFT JOIN incidents i ON i.id = a.incident_id
WHERE a.id IN (
    SELECT id FROM appeals WHERE requested_at > %(since)s AND requested_at <= %(now)s
    UNION SELECT appeal_id FROM appeal_events
          WHERE status = 'in_progress' AND time > %(since)s AND time <= %(now)s
    UNION SELECT m.appeal_id FROM tension_members m JOIN tension_points p ON p.id = m.tension_id
          WHERE p.kind = 'recurrence' AND p.ended_at IS NULL)
"""

_REOPENS = """
SELECT appeal_id, count(*) AS n FROM (
    SELECT e.appeal_id, e.status, e.time,
           lag(e.status) OVER (PARTITION BY e.appeal_id ORDER BY e.time, e.id) AS before
    FROM appeal_events e
    WHERE e.appeal_id = ANY(%(ids)s) AND e.time <= %(now)s
) h
WHERE status = 'in_progress' AND before IN ('resolved', 'closed') AND time > %(start)s
GROUP BY appeal_id
"""

#: Each service's issues (duplicates once) per district over the window, with the box its
#: district's located issues of every service span.
_DENSITY = """
SELECT service_code, district, count(*) AS n,
       min(min(lat)) OVER d AS lat0, max(max(lat)) OVER d AS lat1,
       min(min(lon)) OVER d AS lon0, max(max(lon)) OVER d AS lon1
FROM appeals
WHERE requested_at > %(start)s AND requested_at <= %(now)s
  AND lat IS NOT NULL AND lon IS NOT NULL AND group_id IS NULL
GROUP BY service_code, district
WINDOW d AS (PARTITION BY district)
"""


@dataclass(frozen=True, slots=True)
class _Group:
    device: str | None
    rows: list[Row]
    comebacks: int  # new appeals that came back (the first included)
    reopens: int


def recurrences(
    conn: psycopg.Connection[Any],
    active: Mapping[tuple[TensionKind, str], Active],
    since: datetime | None,
    now: datetime,
    config: RecurrenceConfig,
) -> list[Finding | Ending]:
    """Devices and places that came back at least ``min_count`` times in ``days`` to ``now``
    (since ``since``: only those whose appeals changed, or that hold an active point)."""
    start = now - timedelta(days=config.days)
    rows = (
        located(conn, start, now, devices=True)
        if since is None
        else _near_touched(conn, since, start, now, config.radius_m)
    )
    reopens: dict[int, int] = {}
    if rows:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_REOPENS, {"ids": [r["id"] for r in rows], "start": start, "now": now})
            reopens = {row["appeal_id"]: int(row["n"]) for row in cur}
    by_device: dict[str, list[Row]] = {}
    places: list[Row] = []
    for r in rows:
        if r["device_id"] is not None:
            by_device.setdefault(r["device_id"], []).append(r)
        else:
            places.append(r)
    groups = [_group(device, g, reopens) for device, g in by_device.items()]
    for same in by_service(places).values():
        groups.extend(_group(None, g, reopens) for g in _discs(same, config.radius_m))
    groups = [g for g in groups if g.comebacks + g.reopens >= config.min_count]
    usual = _Usual(conn, start, now, config) if groups else None
    out: list[Finding | Ending] = []
    found: set[str] = set()
    for group in groups:
        facts: dict[str, Any] = {}
        if group.device is None and usual is not None:
            expected, alpha = usual.judge(group.rows[0])
            # the first appeal and, by chance, Poisson(expected) others: P(others ≥
            # comebacks − 1) ≤ alpha, i.e. comebacks − 2 reaches the 1 − alpha quantile
            chance = poisson_quantile(expected, 1.0 - alpha)
            if not group.reopens and group.comebacks - 2 < chance:
                continue  # chance brings this many to a place this busy
            facts["expected"] = round(expected, 2)
        out.append(_finding(group, active, now, config, facts))
        found.add(out[-1].key)
    for (kind, key), point in active.items():
        if kind is TensionKind.RECURRENCE and key not in found:
            out.append(Ending(kind, key, max(now, point.started_at)))
    return out


def _group(device: str | None, rows: list[Row], reopens: Mapping[int, int]) -> _Group:
    comebacks, reopened = _comebacks(rows, reopens)
    return _Group(device, rows, comebacks, reopened)


def _finding(
    group: _Group,
    active: Mapping[tuple[TensionKind, str], Active],
    now: datetime,
    config: RecurrenceConfig,
    extra: Mapping[str, Any],
) -> Finding:
    rows = group.rows
    ids = {r["id"] for r in rows}
    service = most_common(r["service_code"] for r in rows)
    if group.device is not None:
        key = f"device:{group.device}"
    else:
        key = _match(active, f"place:{service}:", ids) or f"place:{service}:{min(ids)}"
    count = group.comebacks + group.reopens
    sector, district, address, lat, lon = place_facts(rows)
    point = active.get((TensionKind.RECURRENCE, key))
    return Finding(
        kind=TensionKind.RECURRENCE,
        key=key,
        sector=sector,
        district=district,
        service_code=service,
        score=round(count / config.min_count, 2),
        started_at=rows[0]["requested_at"] if point is None else point.started_at,
        detected_at=now,
        facts={"count": count, "days": config.days, "address": address, **extra},
        appeal_ids=tuple(sorted(ids)),
        device_id=group.device,
        lat=lat,
        lon=lon,
    )


class _Usual:
    """The discs' normal over the window (see the module): read once per update, and only
    when some place has come back often enough to be judged."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        start: datetime,
        now: datetime,
        config: RecurrenceConfig,
    ) -> None:
        disc_km2 = math.pi * (config.radius_m / 1000.0) ** 2
        self._budget = config.false_per_100_cell_weeks / 100.0
        self._cells: dict[tuple[str, str], tuple[float, float]] = {}
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(FIRST_APPEAL)
            row = cur.fetchone()
            first = start if row is None or row["first"] is None else row["first"]
            days = max(1.0, (now - max(start, first)) / timedelta(days=1))
            cur.execute(_DENSITY, {"start": start, "now": now})
            for r in cur:
                area = box_km2(r["lat0"], r["lat1"], r["lon0"], r["lon1"])
                # the tests a week holds: at most a place begun per issue
                weekly = r["n"] * 7.0 / max(days, 7.0)
                self._cells[r["service_code"], r["district"]] = (
                    r["n"] * disc_km2 / area,
                    self._budget / max(1.0, weekly),
                )

    def judge(self, first: Row) -> tuple[float, float]:
        """(expected appeals in a disc over the window, alpha) for the place begun by
        ``first``: the service's district count spread over the district's extent."""
        return self._cells.get((first["service_code"], first["district"]), (0.0, self._budget))


def _discs(rows: Sequence[Row], radius_m: float) -> list[list[Row]]:
    """Rows (one service, in order of arrival) in discs of ``radius_m`` round the first
    appeal of each: a row joins the earliest disc whose first appeal is within reach,
    else begins a disc.  Looked up on a grid of squares the radius wide; distances on
    the local plane (at 50 m its error is far below a metre)."""
    cell = radius_m / _M_PER_DEG
    reach = radius_m * radius_m
    squares: dict[tuple[int, int], list[int]] = {}
    discs: list[list[Row]] = []
    centres: list[tuple[float, float]] = []
    for r in rows:
        lat, lon = float(r["lat"]), float(r["lon"])
        kx = math.cos(math.radians(lat))
        gy, gx = math.floor(lat / cell), math.floor(lon * kx / cell)
        best = -1
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                for d in squares.get((gy + dy, gx + dx), ()):
                    if best != -1 and d > best:
                        continue
                    c_lat, c_lon = centres[d]
                    north = (lat - c_lat) * _M_PER_DEG
                    east = (lon - c_lon) * kx * _M_PER_DEG
                    if north * north + east * east <= reach:
                        best = d
        if best == -1:
            squares.setdefault((gy, gx), []).append(len(discs))
            centres.append((lat, lon))
            discs.append([r])
        else:
            discs[best].append(r)
    return discs


def _match(
    active: Mapping[tuple[TensionKind, str], Active], prefix: str, ids: set[int]
) -> str | None:
    """The key of the active recurrence whose key starts ``prefix`` sharing an appeal."""
    for (k, key), point in active.items():
        if k is TensionKind.RECURRENCE and key.startswith(prefix) and point.members & ids:
            return key
    return None


def _near_touched(
    conn: psycopg.Connection[Any], since: datetime, start: datetime, now: datetime, radius: float
) -> list[Row]:
    """The window's appeals of the devices and places that changed since ``since`` (new
    appeals, reopenings) or hold an active point: only those can change their count.  A
    disc's members lie within a radius of its first appeal, so of a touched appeal within
    two: the squares two around it."""
    cell = radius / _M_PER_DEG
    devices: set[str] = set()
    squares: set[tuple[str, int, int]] = set()
    reach = (-2, -1, 0, 1, 2)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_TOUCHED, {"since": since, "now": now, "cell": cell})
        for row in cur:
            if row["device_id"] is not None:
                devices.add(row["device_id"])
            elif row["gy"] is not None:
                y, x = row["gy"], row["gx"]
                squares.update(
                    (row["service_code"], y + dy, x + dx) for dy in reach for dx in reach
                )
    if not devices and not squares:
        return []
    return located(conn, start, now, devices=True, near=(devices, squares, cell))


def _comebacks(group: Sequence[Row], reopens: Mapping[int, int]) -> tuple[int, int]:
    """(its first appeal and each one opened after all earlier were done, reopenings)."""
    count = reopened = 0
    done_by: datetime | None = None  # the latest resolution of the earlier ones
    still_open = False  # some earlier one is not resolved (as of now)
    for i, r in enumerate(group):  # in order of arrival
        if i == 0 or (not still_open and done_by is not None and done_by <= r["requested_at"]):
            count += 1
        if r["done_at"] is None:
            still_open = True
        else:
            done_by = r["done_at"] if done_by is None else max(done_by, r["done_at"])
        reopened += reopens.get(r["id"], 0)
    return count, reopened
