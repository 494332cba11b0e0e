"""The report's map: the city's streets and districts (their boundaries, when the routing
file has them), its devices, the period's
incidents (numbered as in the table) and citizens' appeals, drawn by the kernel's map."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from appeals import Routing
from citypulse import Device
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
from lab._report_rows import CitizenRow, IncidentRow
from lab._report_words import INCIDENT_TYPES, Words

INCIDENT_RED = "#dc2626"
CITIZEN_AMBER = "#f59e0b"
_BADGES = 3  # incidents shown on one device; more are one badge with their count


def incident_map(
    w: Words,
    routing: Routing,
    devices: Mapping[str, Device],
    colors: Mapping[str, str],
    incidents: Sequence[IncidentRow],
    numbers: Mapping[int, int],
    citizen: Sequence[CitizenRow],
) -> str:
    """The map with every device, a numbered badge per incident by its device and a
    marker per citizen's appeal; ``colors`` are the districts' chart colours."""
    placed = in_kind_order(d for d in devices.values() if _spot(d))
    points = [_device_point(w, routing, d) for d in placed]
    for a in citizen:
        if a.lat is not None and a.lon is not None:
            title = f"{w.say('citizen')} №{a.id}: {a.title}"
            points.append(MapPoint(a.lat, a.lon, title, "diamond", CITIZEN_AMBER, 5.0))
    by_device: dict[str, list[IncidentRow]] = defaultdict(list)
    for i in incidents:
        by_device[i.device_id].append(i)
    for device_id, found in by_device.items():
        d = devices.get(device_id)
        if d is None or not _spot(d):
            continue
        shown = found if len(found) <= _BADGES else found[: _BADGES - 1]
        for i in shown:
            title = f"{numbers[i.id]}: {w.name(INCIDENT_TYPES, i.type)}, {d.name or d.id}"
            points.append(_badge(d, str(numbers[i.id]), title, open_=i.status == "open"))
        if len(shown) < len(found):
            rest = found[len(shown) :]
            title = w.say("more", n=len(rest)) + ": " + ", ".join(str(numbers[i.id]) for i in rest)
            open_ = any(i.status == "open" for i in rest)
            points.append(_badge(d, f"+{len(rest)}", title, open_=open_))
    areas = _districts(routing, placed, colors)
    keys = [MapKey(w.kind(kind), shape, color) for kind, (shape, color, _) in DEVICE_STYLE.items()]
    keys += [
        MapKey(w.say("key_open"), "circle", INCIDENT_RED),
        MapKey(w.say("key_done"), "circle", "#fff", INCIDENT_RED),
    ]
    if citizen:
        keys.append(MapKey(w.say("citizen"), "diamond", CITIZEN_AMBER))
    keys += [
        MapKey(w.say("key_street"), "street"),
        MapKey(w.say("key_district"), "area", "#64748b"),
        MapKey(w.say("key_leader"), "leader"),
    ]
    streets = streets_through(crossings_of(placed))
    return device_map(points, streets=streets, areas=areas, keys=keys, locale=w.locale)


def _device_point(w: Words, routing: Routing, d: Device) -> MapPoint:
    shape, color, size = device_style(d.kind.value)
    where = routing.district_name(d.district) if d.district else ""
    title = f"{d.name or d.id} ({w.kind(d.kind.value)}{', ' + where if where else ''}) — {d.id}"
    return MapPoint(*_at(d), title, shape, color, size)


def _badge(d: Device, label: str, title: str, *, open_: bool) -> MapPoint:
    size = 8.0 + 1.8 * max(len(label) - 1, 0)
    if open_:
        return MapPoint(*_at(d), title, "circle", INCIDENT_RED, size, label)
    return MapPoint(*_at(d), title, "circle", "#fff", size, label, INCIDENT_RED, INCIDENT_RED)


def _districts(routing: Routing, placed: Sequence[Device], colors: Mapping[str, str]) -> list[Area]:
    spots: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for d in placed:
        if d.district:
            spots[d.district].append(_at(d))
    return [
        Area(
            routing.district_name(slug),
            tuple(points),
            colors.get(slug, "#64748b"),
            outline=routing.boundaries.outline(slug),
        )
        for slug, points in sorted(spots.items())
    ]


def _spot(d: Device) -> tuple[float, float] | None:
    return None if d.lat is None or d.lon is None else (d.lat, d.lon)


def _at(d: Device) -> tuple[float, float]:
    """Where a device is; only for devices :func:`_spot` has found placed."""
    spot = _spot(d)
    if spot is None:
        raise ValueError(f"device {d.id} has no coordinates")
    return spot
