"""Clusters and recurrences: tension in one place rather than in a whole cell.

Cluster: at least ``min_size`` appeals of one service, each within ``radius_m`` of
another member (DBSCAN with the haversine metric, ``min_size`` points to a core) and all
within one ``window``, about at least ``min_size`` issues (an appeal grouped as another's
duplicate, ``group_id``, is the same issue: many reports of one fault are not a cluster);
where a service is so common that ``min_size`` would often meet by chance, more are
needed (a Poisson bound over the city's extent, :func:`_least_cluster`).
The computation looks at sliding windows ending every half window since its last run
(and at ``now``), so a cluster straddling two looks is still seen.  A cluster keeps its
point (and key: service and first member id) while new appeals join it; it ends one
window after its last member.

Recurrence: the same device (sensor and system appeals: the incident's device) or place
(citizens' appeals of one service within ``radius_m`` of each other) coming back at least
``min_count`` times within ``days``.  Times it came back: its first appeal, each appeal
opened when every earlier one there was already resolved or closed, and each reopening
(an appeal taken back to work from resolved or closed, appeal_events).  Judged at ``now``
over the trailing ``days``; the point ends when the count falls below ``min_count``.
Only what was known at ``now`` counts (a resolution recorded later is not yet one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row
from sklearn.cluster import DBSCAN

from appeals.analysis._records import TensionKind
from appeals.analysis._tension_base import Active, Ending, Finding, most_common
from detectors import poisson_quantile

_EARTH_M = 6_371_000.0
#: the smallest city extent assumed when judging how common a service's appeals are
_MIN_AREA_KM2 = 25.0


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    min_size: int = 5
    radius_m: float = 250.0
    window: timedelta = timedelta(hours=24)
    #: chance of a cluster by coincidence, per service and look (Bonferroni over its points)
    alpha: float = 0.005


@dataclass(frozen=True, slots=True)
class RecurrenceConfig:
    min_count: int = 3
    radius_m: float = 50.0
    days: int = 30


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

_LAST_MEMBER = """
SELECT m.tension_id, max(a.requested_at) AS last
FROM tension_members m JOIN appeals a ON a.id = m.appeal_id
WHERE m.tension_id = ANY(%(ids)s)
GROUP BY m.tension_id
"""

Row = dict[str, Any]


def _located(
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


def _groups(rows: Sequence[Row], radius_m: float, min_samples: int) -> list[list[Row]]:
    """DBSCAN groups (noise left out) of located rows, by haversine distance."""
    if len(rows) < min_samples:
        return []
    xy = np.radians(np.array([[r["lat"], r["lon"]] for r in rows], dtype=float))
    labels = DBSCAN(
        eps=radius_m / _EARTH_M, min_samples=min_samples, metric="haversine", algorithm="ball_tree"
    ).fit_predict(xy)
    groups: dict[int, list[Row]] = {}
    for row, label in zip(rows, labels, strict=True):
        if label >= 0:
            groups.setdefault(int(label), []).append(row)
    return list(groups.values())


def _by_service(rows: Sequence[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in rows:
        if r["lat"] is not None and r["lon"] is not None:
            out.setdefault(r["service_code"], []).append(r)
    return out


def _match(
    active: Mapping[tuple[TensionKind, str], Active],
    kind: TensionKind,
    prefix: str,
    ids: set[int],
) -> str | None:
    """The key of the active point of ``kind`` whose key starts ``prefix`` sharing an appeal."""
    for (k, key), point in active.items():
        if k is kind and key.startswith(prefix) and point.members & ids:
            return key
    return None


def _place_facts(rows: Sequence[Row]) -> tuple[str, str, str, float | None, float | None]:
    sector = most_common(r["sector"] for r in rows)
    district = most_common(r["district"] for r in rows)
    address = most_common(r["address"] for r in rows)
    located = [r for r in rows if r["lat"] is not None and r["lon"] is not None]
    if not located:
        return sector, district, address, None, None
    lat = sum(r["lat"] for r in located) / len(located)
    lon = sum(r["lon"] for r in located) / len(located)
    return sector, district, address, round(lat, 6), round(lon, 6)


def clusters(
    conn: psycopg.Connection[Any],
    active: Mapping[tuple[TensionKind, str], Active],
    since: datetime | None,
    now: datetime,
    config: ClusterConfig,
) -> list[Finding | Ending]:
    """Clusters found in the windows ending between ``since`` and ``now``, and those over."""
    step = config.window / 2
    looks = []
    t = now if since is None else since + step
    while t < now:
        looks.append(t)
        t += step
    looks.append(now)
    rows = _located(conn, looks[0] - config.window, now, devices=False)
    area = _area_km2(rows)
    live = {key: a for (k, key), a in active.items() if k is TensionKind.CLUSTER}
    last_at = _last_members(conn, [a.id for a in live.values()])
    last = {key: last_at[a.id] for key, a in live.items() if a.id in last_at}
    started = {key: a.started_at for key, a in live.items()}
    detected: dict[str, datetime] = {}
    members = {key: set(a.members) for key, a in live.items()}
    seen: dict[int, Row] = {}
    ended: dict[str, datetime] = {}
    touched: set[str] = set()
    lo = 0
    for look in looks:
        while lo < len(rows) and rows[lo]["requested_at"] <= look - config.window:
            lo += 1
        window = [r for r in rows[lo:] if r["requested_at"] <= look]
        for service, located in _by_service(window).items():
            least = _least_cluster(located, area, config)
            for group in _groups(located, config.radius_m, least):
                if len({r["issue"] for r in group}) < least:
                    continue  # one fault and its duplicates are not yet a cluster
                ids = {r["id"] for r in group}
                key = _match_live(members, ended, f"{service}:", ids)
                if key is None:
                    key = f"{service}:{min(ids)}"
                    members[key] = set()
                    started[key] = min(r["requested_at"] for r in group)
                    detected[key] = look
                members[key] |= ids
                last[key] = max(last.get(key, look), max(r["requested_at"] for r in group))
                seen.update((r["id"], r) for r in group)
                touched.add(key)
        for key, at in last.items():
            if key not in ended and at + config.window <= look:
                ended[key] = at + config.window
    out: list[Finding | Ending] = []
    for key in sorted(members):
        if key not in touched:
            if key in ended and key in live:
                out.append(Ending(TensionKind.CLUSTER, key, ended[key]))
            continue
        group = [seen[i] for i in sorted(members[key]) if i in seen]
        sector, district, address, lat, lon = _place_facts(group)
        span_h = (last[key] - started[key]) / timedelta(hours=1)
        window_h = max(config.window / timedelta(hours=1), math.ceil(span_h))
        count = len(members[key])
        out.append(
            Finding(
                kind=TensionKind.CLUSTER,
                key=key,
                sector=sector,
                district=district,
                service_code=key.rsplit(":", 1)[0],
                score=round(count / config.min_size, 2),
                started_at=started[key],
                detected_at=detected.get(key, now),
                facts={
                    "count": count,
                    "radius_m": round(config.radius_m),
                    "window_h": round(window_h),
                    "address": address,
                },
                appeal_ids=tuple(sorted(members[key])),
                ended_at=ended.get(key),
                lat=lat,
                lon=lon,
            )
        )
    return out


def _least_cluster(located: Sequence[Row], area_km2: float, config: ClusterConfig) -> int:
    """How many appeals make a cluster of this service now: at least ``min_size``, and more
    where the service is so common that as many would often fall in one disc by chance
    (its window's appeals spread evenly over the city's ``area_km2``, Poisson)."""
    n = len(located)
    disc = math.pi * (config.radius_m / 1000.0) ** 2
    neighbours = n * disc / area_km2  # expected others within the radius of an appeal
    chance = poisson_quantile(neighbours, 1.0 - config.alpha / n)
    return max(config.min_size, chance + 2)


def _area_km2(rows: Sequence[Row]) -> float:
    """The box the appeals span (all services: the city's extent), at least 25 km²."""
    lats = [float(r["lat"]) for r in rows if r["lat"] is not None]
    lons = [float(r["lon"]) for r in rows if r["lon"] is not None]
    if not lats:
        return _MIN_AREA_KM2
    km_lat = (max(lats) - min(lats)) * 111.32
    km_lon = (max(lons) - min(lons)) * 111.32 * math.cos(math.radians(sum(lats) / len(lats)))
    return max(_MIN_AREA_KM2, km_lat * km_lon)


def _match_live(
    members: Mapping[str, set[int]], ended: Mapping[str, datetime], prefix: str, ids: set[int]
) -> str | None:
    for key, have in members.items():
        if key not in ended and key.startswith(prefix) and have & ids:
            return key
    return None


def _last_members(conn: psycopg.Connection[Any], ids: list[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_LAST_MEMBER, {"ids": ids})
        return {row["tension_id"]: row["last"] for row in cur}


def _near_touched(
    conn: psycopg.Connection[Any], since: datetime, start: datetime, now: datetime, radius: float
) -> list[Row]:
    """The window's appeals of the devices and places that changed since ``since`` (new
    appeals, reopenings) or hold an active point: only those can change their count."""
    cell = radius / 111_320.0
    devices: set[str] = set()
    squares: set[tuple[str, int, int]] = set()
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_TOUCHED, {"since": since, "now": now, "cell": cell})
        for row in cur:
            if row["device_id"] is not None:
                devices.add(row["device_id"])
            elif row["gy"] is not None:
                y, x = row["gy"], row["gx"]
                squares.update(
                    (row["service_code"], y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                )
    if not devices and not squares:
        return []
    return _located(conn, start, now, devices=True, near=(devices, squares, cell))


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
        _located(conn, start, now, devices=True)
        if since is None
        else _near_touched(conn, since, start, now, config.radius_m)
    )
    reopens: dict[int, int] = {}
    if rows:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_REOPENS, {"ids": [r["id"] for r in rows], "start": start, "now": now})
            reopens = {row["appeal_id"]: int(row["n"]) for row in cur}
    groups: list[tuple[str | None, list[Row]]] = []
    by_device: dict[str, list[Row]] = {}
    places: list[Row] = []
    for r in rows:
        if r["device_id"] is not None:
            by_device.setdefault(r["device_id"], []).append(r)
        else:
            places.append(r)
    groups.extend(by_device.items())
    for located in _by_service(places).values():
        groups.extend((None, g) for g in _groups(located, config.radius_m, 1))
    out: list[Finding | Ending] = []
    found: set[str] = set()
    for device, group in groups:
        count = _comebacks(group, reopens)
        if count < config.min_count:
            continue
        ids = {r["id"] for r in group}
        service = most_common(r["service_code"] for r in group)
        if device is not None:
            key = f"device:{device}"
        else:
            key = _match(active, TensionKind.RECURRENCE, f"place:{service}:", ids) or (
                f"place:{service}:{min(ids)}"
            )
        found.add(key)
        sector, district, address, lat, lon = _place_facts(group)
        point = active.get((TensionKind.RECURRENCE, key))
        out.append(
            Finding(
                kind=TensionKind.RECURRENCE,
                key=key,
                sector=sector,
                district=district,
                service_code=service,
                score=round(count / config.min_count, 2),
                started_at=group[0]["requested_at"] if point is None else point.started_at,
                detected_at=now,
                facts={"count": count, "days": config.days, "address": address},
                appeal_ids=tuple(sorted(ids)),
                device_id=device,
                lat=lat,
                lon=lon,
            )
        )
    for (kind, key), point in active.items():
        if kind is TensionKind.RECURRENCE and key not in found:
            out.append(Ending(kind, key, max(now, point.started_at)))
    return out


def _comebacks(group: Sequence[Row], reopens: Mapping[int, int]) -> int:
    """Its first appeal, each one opened after all earlier were done, and reopenings."""
    count = 0
    done_by: datetime | None = None  # the latest resolution of the earlier ones
    still_open = False  # some earlier one is not resolved (as of now)
    for i, r in enumerate(group):  # in order of arrival
        if i == 0 or (not still_open and done_by is not None and done_by <= r["requested_at"]):
            count += 1
        if r["done_at"] is None:
            still_open = True
        else:
            done_by = r["done_at"] if done_by is None else max(done_by, r["done_at"])
        count += reopens.get(r["id"], 0)
    return count
