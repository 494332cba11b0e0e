"""The shared city map: streets from the crossings the city knows, districts as areas,
markers that do not hide each other, a legend; read back from the SVG it draws."""

from __future__ import annotations

import math
import random
import re

import pytest

from citypulse import Device, DeviceKind
from citypulse.render import (
    Area,
    Crossing,
    MapKey,
    MapPoint,
    crossings_of,
    device_map,
    streets_through,
)
from citypulse.render._layout import convex_hull, declutter, order_along
from simulator import preset_city
from tests.citypulse.render._svg import map_svg, markers, overlapping

LAT, LON = 54.5065, 36.2480


def grid(rows: int, cols: int) -> list[Crossing]:
    """Crossings of east-west streets R0.. and north-south streets C0.., slightly skewed."""
    return [
        Crossing(LAT + r * 0.0036 + c * 0.0004, LON + c * 0.0061 - r * 0.0007, (f"R{r}", f"C{c}"))
        for r in range(rows)
        for c in range(cols)
    ]


def test_each_street_runs_through_its_crossings_in_order_along_it() -> None:
    crossings = grid(3, 4)
    random.Random(1).shuffle(crossings)
    lone = Crossing(LAT - 0.01, LON, ("R0", "Тупиковый пер."))  # a street named once
    streets = {s.name: s for s in streets_through([*crossings, lone])}
    assert set(streets) == {"R0", "R1", "R2", "C0", "C1", "C2", "C3"}
    for r in range(3):  # east-west: west to east
        lons = [lon for _, lon in streets[f"R{r}"].points]
        assert lons == sorted(lons)
        assert len(lons) == 4 + (r == 0)  # R0 also passes the lone crossing
    for c in range(4):  # north-south: south to north
        lats = [lat for lat, _ in streets[f"C{c}"].points]
        assert lats == sorted(lats)
        assert len(lats) == 3


def test_order_along_a_diagonal_street() -> None:
    points = [(LAT + k * 0.001, LON + k * 0.0012) for k in (3, 0, 4, 1, 2)]
    assert order_along(points) == tuple(sorted(points))


def test_crossings_come_from_the_devices_attributes_or_addresses() -> None:
    devices = preset_city().devices()
    crossings = crossings_of(devices)
    assert len(crossings) == 16
    lights = {(d.lat, d.lon) for d in devices if d.kind is DeviceKind.TRAFFIC_LIGHT}
    assert {(c.lat, c.lon) for c in crossings} == lights  # a crossing is where its light is
    streets = streets_through(crossings)
    assert len(streets) == 8
    assert all(len(s.points) == 4 for s in streets)
    assert "ул. Кирова" in {s.name for s in streets}
    # Without attributes: the streets are read from an address "A / B".
    bare = [
        Device("cam-1", DeviceKind.CAMERA, address="ул. Мира, подход к ул. Мира / ул. Садовая",
               lat=LAT, lon=LON, intersection="x1"),
        Device("cam-2", DeviceKind.CAMERA, address="ул. Мира / ул. Лесная", lat=LAT,
               lon=LON + 0.004, intersection="x2"),
        Device("pk-1", DeviceKind.PARKING, address="ул. Мира, 1", lat=LAT, lon=LON + 0.002),
    ]  # fmt: skip
    assert crossings_of(bare) == (
        Crossing(LAT, LON, ("ул. Мира", "ул. Садовая")),
        Crossing(LAT, LON + 0.004, ("ул. Мира", "ул. Лесная")),
    )


def crowded() -> list[MapPoint]:
    """Devices around crossings, with incidents and reports on the same spots."""
    rng = random.Random(7)
    points = []
    for c in grid(2, 2):
        points.append(MapPoint(c.lat, c.lon, "light", "circle", "#475569", 4.0))
        for dlat, dlon in ((0.0003, 0), (-0.0003, 0), (0, 0.0005), (0, -0.0005)):
            points.append(MapPoint(c.lat + dlat, c.lon + dlon, "camera", "square", "#2563eb", 3.5))
        for n in range(3):  # incidents on the light itself
            points.append(MapPoint(c.lat, c.lon, f"incident {n}", "circle", "#dc2626", 8, str(n)))
    for _ in range(20):  # reports scattered close together
        lat, lon = LAT + rng.uniform(0, 0.0004), LON + rng.uniform(0, 0.0004)
        points.append(MapPoint(lat, lon, "report", "diamond", "#f59e0b", 4.0))
    return points


def test_markers_do_not_hide_each_other() -> None:
    points = crowded()
    svg = map_svg(device_map(points, streets=streets_through(grid(2, 2))))
    found = markers(svg)
    assert len(found) == len(points)
    assert overlapping(found) == []
    # The first marker keeps its place; each moved one is tied to its place by a line.
    lines = [e for e in svg.iter("line") if e.get("class") == "leader"]
    anchors = [e for e in svg.iter("circle") if e.get("class") == "anchor"]
    assert len(lines) == len(anchors) > 0
    ends = {(round(float(e.get("x2", 0)), 1), round(float(e.get("y2", 0)), 1)) for e in lines}
    assert (found[0][0], found[0][1]) not in ends
    moved = sum(1 for x, y, _ in found if (round(x, 1), round(y, 1)) in ends)
    assert moved == len(lines)


def test_declutter_keeps_free_markers_in_place() -> None:
    wanted = [(0.0, 0.0, 5.0), (100.0, 0.0, 5.0), (0.0, 0.0, 5.0), (3.0, 0.0, 8.0)]
    placed = declutter(wanted)
    assert placed[:2] == [(0.0, 0.0), (100.0, 0.0)]
    for i, (x, y) in enumerate(placed):
        for j, (u, v) in enumerate(placed[:i]):
            assert math.hypot(x - u, y - v) >= wanted[i][2] + wanted[j][2]


def test_streets_districts_and_legend_are_drawn() -> None:
    crossings = grid(3, 3)
    streets = streets_through(crossings)
    west = Area("Ленинский округ", tuple((c.lat, c.lon) for c in crossings if c.streets[1] == "C0"))
    east = Area("Октябрьский округ", tuple((c.lat, c.lon) for c in crossings[2::3]), "#0891b2")
    keys = [MapKey("светофор"), MapKey("инцидент", color="#dc2626"), MapKey("улица", "street"),
            MapKey("округ", "area"), MapKey("смещённый знак", "leader")]  # fmt: skip
    points = [MapPoint(c.lat, c.lon, "light") for c in crossings]
    html = device_map(points, streets=streets, areas=[west, east], keys=keys)
    svg = map_svg(html)
    drawn = [e for e in svg.iter("polyline") if e.get("class") == "street"]
    assert [e.findtext("title") for e in drawn] == [s.name for s in streets]
    for e, s in zip(drawn, streets, strict=True):  # through every crossing (and a bit beyond)
        assert len(e.get("points", "").split()) == len(s.points) + 2
    names = [e.text for e in svg.iter("text") if e.get("class") == "street-name"]
    assert sorted(names) == sorted(s.name for s in streets)  # type: ignore[type-var]
    areas = [e for e in svg.iter("path") if e.get("class") == "area"]
    assert [e.findtext("title") for e in areas] == ["Ленинский округ", "Октябрьский округ"]
    labels = [e.text for e in svg.iter("text") if e.get("class") == "area-name"]
    assert labels == ["Ленинский округ", "Октябрьский округ"]
    legend = [e for e in svg.iter("g") if e.get("class") == "key"]
    assert [e.findtext("text") for e in legend] == [k.label for k in keys]
    # Russian by default: the scale bar in metres «м», north «С»; nothing fetched.
    assert re.search(r">\d+ (м|км)<", html)
    assert ">С<" in html
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in html
    english = device_map(points, streets=streets, locale="en")
    assert re.search(r">\d+ (m|km)<", english)
    assert ">N<" in english


def test_a_district_outline_contains_its_devices() -> None:
    crossings = grid(2, 2)
    area = Area("Ленинский округ", tuple((c.lat, c.lon) for c in crossings))
    svg = map_svg(device_map([MapPoint(c.lat, c.lon, "x") for c in crossings], areas=[area]))
    path = next(e for e in svg.iter("path") if e.get("class") == "area").get("d", "")
    pairs = re.findall(r"([-\d.]+),([-\d.]+)", path)
    outline = [(float(x), float(y)) for x, y in pairs]
    hull = convex_hull(outline)
    for x, y, _ in markers(svg):  # inside: left of every counter-clockwise edge
        for (ax, ay), (bx, by) in zip(hull, [*hull[1:], hull[0]], strict=True):
            assert (bx - ax) * (y - ay) - (by - ay) * (x - ax) >= 0


def test_nothing_to_draw_and_wrong_shapes() -> None:
    assert "No device has coordinates." in device_map([], locale="en")
    with pytest.raises(ValueError, match="shape"):
        MapPoint(LAT, LON, "x", shape="star")
    with pytest.raises(ValueError, match="shape"):
        MapKey("x", shape="hexagon")


def test_a_boundary_is_clipped_to_the_frame_and_markers_and_areas_link() -> None:
    crossings = grid(2, 2)
    big = ((LAT - 1, LON - 1), (LAT - 1, LON + 1), (LAT + 1, LON + 1), (LAT + 1, LON - 1))
    area = Area("Ленинский округ", (), outline=big, href="/console/?district=x&y=<1>")
    points = [MapPoint(c.lat, c.lon, "x", href=f"/console/appeals/{i}") for i, c in
              enumerate(crossings)]  # fmt: skip
    html = device_map(points, areas=[area])
    svg = map_svg(html)
    # the map's extent follows the markers, not a district a degree wide
    xs = [x for x, _, _ in markers(svg)]
    assert max(xs) - min(xs) > 300
    assert 'href="/console/?district=x&amp;y=&lt;1&gt;"' in html  # escaped
    links = [a.get("href") for a in svg.iter("a")]
    assert links[1:] == [f"/console/appeals/{i}" for i in range(4)]
    assert all(a.find("g") is not None for a in svg.iter("a") if a.get("href", "")[-1].isdigit())
    label = next(e for e in svg.iter("text") if e.get("class") == "area-name")
    view = svg.get("viewBox", "").split()
    assert 0 < float(label.get("x", "-1")) < float(view[2])  # inside the visible part
    assert 0 < float(label.get("y", "-1")) < float(view[3])
