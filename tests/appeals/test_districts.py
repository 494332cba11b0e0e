"""District boundaries: point in polygon (holes, multipolygons), the shipped Kaluga
boundaries against the demo city, and a bad GeoJSON refused with its place."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from appeals import RoutingError, load_routing
from appeals._districts import parse_districts
from simulator import preset_city

SLUGS = ("centre", "ring", "islands")


def _square(west: float, south: float, size: float) -> list[list[float]]:
    return [
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
        [west, south],
    ]


def _doc() -> dict[str, Any]:
    """A 'ring' district with a hole where 'centre' sits, and 'islands' in two parts."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"district": "ring"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [_square(36.0, 54.0, 1.0), _square(36.4, 54.4, 0.2)],
                },
            },
            {
                "type": "Feature",
                "properties": {"district": "centre", "name": "ignored"},
                "geometry": {"type": "Polygon", "coordinates": [_square(36.4, 54.4, 0.2)]},
            },
            {
                "type": "Feature",
                "properties": {"district": "islands"},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [[_square(38.0, 54.0, 0.1)], [_square(39.0, 55.0, 0.1)]],
                },
            },
        ],
    }


def test_point_in_polygon_with_holes_and_multipolygons() -> None:
    districts = parse_districts(json.dumps(_doc()), source="d.geojson", districts=SLUGS)
    assert districts.locate(54.1, 36.1) == "ring"
    assert districts.locate(54.5, 36.5) == "centre"  # in the ring's hole
    assert districts.locate(54.05, 38.05) == "islands"
    assert districts.locate(55.05, 39.05) == "islands"
    assert districts.locate(54.5, 38.5) is None  # between the islands
    assert districts.locate(53.9, 36.5) is None
    # A concave outline: a point in the notch is outside.
    notched = _doc()
    notched["features"][0]["geometry"]["coordinates"] = [
        [[36, 54], [37, 54], [37, 55], [36.5, 54.5], [36, 55], [36, 54]]
    ]
    districts = parse_districts(json.dumps(notched), source="d.geojson", districts=SLUGS)
    assert districts.locate(54.9, 36.5) is None
    assert districts.locate(54.9, 36.05) == "ring"
    assert districts.locate(54.2, 36.5) == "ring"


def test_every_demo_device_lies_in_its_own_district() -> None:
    routing = load_routing()
    devices = preset_city().devices()
    assert {d.district for d in devices} == set(routing.districts)
    for device in devices:
        assert device.lat is not None
        assert device.lon is not None
        assert routing.district_at(device.lat, device.lon) == device.district, device.id
    # The boundaries cover the city well beyond the devices (about 2 km out).
    assert routing.district_at(54.535, 36.31) == "oktyabrsky"
    assert routing.district_at(54.49, 36.20) == "leninsky"
    assert routing.district_at(54.55, 36.20) == "moskovsky"
    assert routing.district_at(55.75, 37.62) is None  # Moscow


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("type", "Feature"), "top level: .*FeatureCollection"),
        (_set("features", []), "features: expected a non-empty list"),
        (_set("features.0.type", "Point"), r"features\[0\]: .*Feature"),
        (_set("features.0.properties", {}), r"features\[0\]\.properties\.district: missing"),
        (
            _set("features.1.properties.district", "atlantis"),
            r"features\[1\]\.properties\.district: 'atlantis' is not one of",
        ),
        (
            _set("features.1.properties.district", "ring"),
            r"features\[1\]\.properties\.district: 'ring' has a boundary already",
        ),
        (_set("features.1.geometry", None), r"features\[1\]\.geometry: expected a Polygon"),
        (
            _set("features.1.geometry.type", "LineString"),
            r"features\[1\]\.geometry\.type: expected Polygon or MultiPolygon",
        ),
        (
            _set("features.0.geometry.coordinates.1", [[36, 54], [37, 54], [36, 54]]),
            r"features\[0\]\.geometry\.coordinates\[1\]: .*at least 4 positions",
        ),
        (
            _set("features.1.geometry.coordinates.0.4", [36.5, 54.5]),
            r"features\[1\]\.geometry\.coordinates\[0\]: .*end where it starts",
        ),
        (
            _set("features.1.geometry.coordinates.0.2", [54.6, "36.6"]),
            r"features\[1\]\.geometry\.coordinates\[0\]\[2\]: expected \[longitude, latitude\]",
        ),
        (
            _set("features.1.geometry.coordinates.0.2", [36.6, 95.0]),
            r"features\[1\]\.geometry\.coordinates\[0\]\[2\]: .*not \[longitude, latitude\]",
        ),
        (
            _set("features.2.geometry.coordinates", []),
            r"features\[2\]\.geometry\.coordinates: expected a non-empty list of polygons",
        ),
    ],
)
def test_bad_boundaries_are_refused_with_their_place(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    doc = _doc()
    change(doc)
    with pytest.raises(RoutingError, match=message) as info:
        parse_districts(json.dumps(doc), source="d.geojson", districts=SLUGS)
    assert "d.geojson" in str(info.value)


def test_not_json_is_refused() -> None:
    with pytest.raises(RoutingError, match=r"d\.geojson: file: not valid JSON"):
        parse_districts("{", source="d.geojson", districts=SLUGS)
