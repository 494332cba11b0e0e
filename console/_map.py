"""The console's map: the queue's appeals (same filters) and every device on the city's
own map (``citypulse.render``, as the report draws it): streets through the crossings
the devices name, the districts' boundaries from the routing file, markers moved apart
where they would overlap.  Each appeal's marker opens the appeal, a district's area the
queue filtered to it, a device with appeals its newest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from appeals import Routing
from citypulse import Device
from citypulse.db import load_devices
from citypulse.render import (
    DEVICE_STYLE,
    Area,
    MapKey,
    MapPoint,
    crossings_of,
    device_map,
    device_style,
    in_kind_order,
    streets_through,
)
from console._presence import DeviceStatus
from console._queue import OPEN, Filters, order_clause, where_clause

MAX_MARKERS = 500  # appeals on one map: the rest are in the queue, pages away
SOURCE_STYLE = {  # an appeal's marker by its source: shape, colour, radius
    "sensor": ("circle", "#dc2626", 7.0),
    "citizen": ("diamond", "#f59e0b", 6.5),
    "system": ("square", "#0891b2", 6.0),
}
_DISTRICT_COLORS = ("#2563eb", "#0891b2", "#7c3aed", "#db2777", "#ca8a04", "#16a34a")

# Filtered (and limited) first, joined after: the filters name appeals' columns bare.
_APPEALS = """
SELECT a.id, a.source, a.title, a.status, a.priority, a.district, i.device_id,
       coalesce(a.lat, d.lat) AS lat, coalesce(a.lon, d.lon) AS lon
FROM (SELECT * FROM appeals WHERE {where} ORDER BY {order} LIMIT %s) AS a
LEFT JOIN incidents i ON i.id = a.incident_id
LEFT JOIN devices d ON d.id = i.device_id
ORDER BY (a.status = ANY(%s)) DESC, a.priority DESC, a.requested_at DESC, a.id DESC
"""


@dataclass(frozen=True, slots=True)
class MapAppeal:
    id: int
    source: str
    title: str
    status: str
    priority: int
    district: str
    device_id: str | None
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class CityMap:
    svg: str
    appeals: tuple[MapAppeal, ...]  # the appeals shown (placed first)
    unplaced: int  # matching appeals with no place to draw


def city_map(
    conn: psycopg.Connection[Any],
    filters: Filters,
    *,
    scope: str | None,
    routing: Routing,
    lang: str,
    t: Callable[[str], str],
    prefix: str,
    presence: Mapping[str, DeviceStatus],
) -> CityMap:
    """The map of the appeals matching ``filters`` (within ``scope``'s agency) and the
    devices, in ``lang``; ``presence`` is the devices' live state where known."""
    where, params = where_clause(filters, scope)
    order, order_params = order_clause(filters)
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            sql.SQL(_APPEALS).format(where=where, order=order),
            [*params, *order_params, MAX_MARKERS, list(OPEN)],
        )
        .fetchall()
    )
    appeals = [MapAppeal(**r) for r in rows]
    devices = in_kind_order(
        d for d in load_devices(conn).values() if d.lat is not None and d.lon is not None
    )
    newest: dict[str, int] = {}
    for a in appeals:
        if a.device_id:
            newest.setdefault(a.device_id, a.id)
    points = [
        _device_point(d, t, routing, presence.get(d.id), newest.get(d.id), prefix) for d in devices
    ]
    placed = [a for a in appeals if a.lat is not None and a.lon is not None]
    for a in placed:
        shape, color, size = SOURCE_STYLE.get(a.source, ("circle", "#64748b", 6.0))
        title = f"№{a.id} · {t(a.source)} · {t(a.status)}: {a.title}"
        points.append(
            MapPoint(a.lat or 0.0, a.lon or 0.0, title, shape, color, size,
                     href=f"{prefix}/appeals/{a.id}")
        )  # fmt: skip
    areas = _districts(routing, devices, filters, prefix)
    keys = [MapKey(t("kind_" + kind), shape, color) for kind, (shape, color, _) in
            DEVICE_STYLE.items()]  # fmt: skip
    keys += [MapKey(t("map_" + s), shape, color) for s, (shape, color, _) in SOURCE_STYLE.items()]
    keys += [
        MapKey(t("map_offline"), "circle", "#475569", "#dc2626"),
        MapKey(t("map_street"), "street"),
        MapKey(t("map_district"), "area", "#64748b"),
        MapKey(t("map_leader"), "leader"),
    ]
    streets = streets_through(crossings_of(devices))
    svg = device_map(points, streets=streets, areas=areas, keys=keys, locale=lang)
    unplaced = [a for a in appeals if a.lat is None or a.lon is None]
    return CityMap(svg=svg, appeals=(*placed, *unplaced), unplaced=len(unplaced))


def _device_point(
    d: Device,
    t: Callable[[str], str],
    routing: Routing,
    state: DeviceStatus | None,
    appeal: int | None,
    prefix: str,
) -> MapPoint:
    shape, color, size = device_style(d.kind.value)
    where = routing.district_name(d.district) if d.district else ""
    title = f"{d.name or d.id} ({t('kind_' + d.kind.value)}{', ' + where if where else ''})"
    title += f" — {d.id}"
    if state is not None:
        title += f" · {t('device_online' if state.online else 'device_offline')}"
    if appeal is not None:
        title += f" · №{appeal}"
    href = f"{prefix}/appeals/{appeal}" if appeal is not None else ""
    stroke = "#fff" if state is None or state.online else "#dc2626"
    return MapPoint(d.lat or 0.0, d.lon or 0.0, title, shape, color, size, stroke=stroke,
                    href=href)  # fmt: skip


def _districts(
    routing: Routing, devices: list[Device], filters: Filters, prefix: str
) -> list[Area]:
    spots: dict[str, list[tuple[float, float]]] = {}
    for d in devices:
        if d.district and d.lat is not None and d.lon is not None:
            spots.setdefault(d.district, []).append((d.lat, d.lon))
    slugs = sorted(set(spots) | {b.district for b in routing.boundaries.boundaries})
    areas = []
    for n, slug in enumerate(slugs):
        name = routing.district_name(slug)
        query = urlencode(filters.query(district=name, page=1))
        areas.append(
            Area(
                name,
                tuple(spots.get(slug, ())),
                _DISTRICT_COLORS[n % len(_DISTRICT_COLORS)],
                outline=routing.boundaries.outline(slug),
                href=f"{prefix}/?{query}",
            )
        )
    return areas
