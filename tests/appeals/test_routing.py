"""The routing file: the shipped default is complete; mistakes are reported with their place."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pytest
import yaml

from appeals import RoutingError, load_routing, parse_routing
from citypulse import ConfigError, DeviceKind, IncidentType


def _default_doc() -> dict[str, object]:
    text = resources.files("appeals").joinpath("routing.default.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def _parse(doc: object) -> object:
    return parse_routing(yaml.safe_dump(doc, allow_unicode=True), source="test.yaml")


def test_default_routes_every_incident_type_to_a_listed_service() -> None:
    routing = load_routing()
    codes = {s.service_code for s in routing.services}
    for t in IncidentType:
        for kind in DeviceKind:
            route = routing.route(t, kind)
            assert route.service_code in codes
            assert route.sector in routing.sectors
            assert 1 <= route.priority <= 4
            assert route.deadline > timedelta(0)
    stuck = routing.route(IncidentType.STUCK_PHASE, DeviceKind.TRAFFIC_LIGHT)
    assert stuck.sector == "Дороги"
    assert stuck.deadline == timedelta(hours=4)
    assert stuck.agency == "МКУ «Управление дорожного хозяйства»"
    silent_camera = routing.route(IncidentType.DEVICE_SILENT, DeviceKind.CAMERA)
    assert silent_camera.sector == "Транспорт"
    assert silent_camera.deadline == timedelta(hours=24)  # inherited from the type's route
    for block in ("Дороги", "Транспорт", "Экология", "ЖКХ", "ТКО", "Энергетика"):
        assert block in routing.sectors
    assert routing.timezone == "Europe/Moscow"
    assert routing.correlation.distance_m == 300


def test_every_service_routes_citizens_reports() -> None:
    routing = load_routing()
    for service in routing.services:
        route = routing.route_for_service(service.service_code)
        assert route is not None, service.service_code
        assert route.sector == service.group
        assert route.agency, service.service_code
        assert 1 <= route.priority <= 4
        assert route.deadline > timedelta(0)
    road = routing.route_for_service("road-damage")
    assert road is not None
    assert road.agency == "Управление городского хозяйства г. Калуги"
    assert road.deadline == timedelta(days=5)
    waste = routing.route_for_service("waste")
    assert waste is not None
    assert waste.sector == "ТКО"
    assert "региональный экологический оператор" in waste.agency
    assert routing.route_for_service("ufo") is None


def test_routing_file_from_a_path(tmp_path: Path) -> None:
    doc = _default_doc()
    doc["region"] = "Тульская область"
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    # district_boundaries is read from beside the routing file, not from the package.
    with pytest.raises(RoutingError, match=r"district_boundaries: cannot read"):
        load_routing(path)
    square = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"district": "leninsky"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[37, 54], [38, 54], [38, 55], [37, 55], [37, 54]]],
                },
            }
        ],
    }
    (tmp_path / "districts.default.geojson").write_text(json.dumps(square), "utf-8")
    routing = load_routing(path)
    assert routing.region == "Тульская область"
    assert routing.district_at(54.5, 37.5) == "leninsky"
    assert routing.district_at(54.51, 36.25) is None  # Kaluga is not in this file
    with pytest.raises(RoutingError, match="cannot read"):
        load_routing(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["routes"].pop("congestion"), "no route for incident type.*congestion"),
        (lambda d: d["routes"].__setitem__("smoke", d["routes"]["congestion"]), "unknown incident"),
        (
            lambda d: d["routes"]["congestion"].__setitem__("priority", 7),
            r"routes\.congestion\.priority",
        ),
        (
            lambda d: d["routes"]["congestion"].__setitem__("deadline", "soon"),
            r"routes\.congestion\.deadline",
        ),
        (
            lambda d: d["routes"]["congestion"].__setitem__("sector", "Космос"),
            "not one of the sectors",
        ),
        (lambda d: d["routes"]["congestion"].__setitem__("service_code", "x"), "not in services"),
        (lambda d: d["routes"]["congestion"].__setitem__("agnecy", "x"), "unknown key.*agnecy"),
        (
            lambda d: d["routes"]["congestion"].__setitem__("kinds", {"drone": {}}),
            "not a device kind",
        ),
        (lambda d: d.__setitem__("timezone", "Mars/Olympus"), "unknown time zone"),
        (lambda d: d.__setitem__("locale", "de"), "locale"),
        (lambda d: d["services"].append(dict(d["services"][0])), "listed twice"),
        (lambda d: d["services"][0].__setitem__("group", "Нет"), r"services\[0\]\.group"),
        (
            lambda d: d["services"][0].__setitem__("service_code", "a b"),
            r"services\[0\]\.service_code",
        ),
        (lambda d: d.__setitem__("correlation", {"distance_m": -1}), "distance_m"),
        (lambda d: d.pop("region"), "region: missing"),
        (lambda d: d["services"][1].pop("agency"), r"services\[1\]\.agency: missing"),
        (lambda d: d["services"][2].pop("deadline"), r"services\[2\]\.deadline: missing"),
        (lambda d: d["services"][3].pop("priority"), r"services\[3\]\.priority: missing"),
        (lambda d: d["services"][0].__setitem__("agency", " "), r"services\[0\]\.agency"),
        (lambda d: d["services"][0].__setitem__("priority", 5), r"services\[0\]\.priority"),
        (lambda d: d["services"][0].__setitem__("deadline", "0m"), r"services\[0\]\.deadline"),
        (
            lambda d: d.__setitem__("district_boundaries", "nowhere.geojson"),
            "district_boundaries: cannot read nowhere.geojson",
        ),
    ],
)
def test_invalid_routing_is_refused_with_its_place(change: object, message: str) -> None:
    doc = _default_doc()
    change(doc)  # type: ignore[operator]
    with pytest.raises(RoutingError, match=message) as info:
        _parse(doc)
    assert isinstance(info.value, ConfigError)
    assert "test.yaml" in str(info.value)


def test_not_yaml_is_refused() -> None:
    with pytest.raises(RoutingError, match="not valid YAML"):
        parse_routing("routes: [unclosed", source="x.yaml")
    with pytest.raises(RoutingError, match="mapping"):
        parse_routing("- a list", source="x.yaml")
