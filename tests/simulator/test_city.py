"""The city model: a plausible preset and generated cities of any size."""

from __future__ import annotations

import pytest

from citypulse import DEVICE_ID_RE as DEVICE_ID
from citypulse import DeviceKind
from simulator import CITIES, generated_city, large_city, preset_city
from simulator._cli import CITY_NAMES


def test_preset_is_kaluga_centre_like() -> None:
    city = preset_city()
    assert {d.slug for d in city.districts} == {"leninsky", "oktyabrsky", "moskovsky"}
    assert len(city.intersections) == 16
    for i in city.intersections:
        assert 54.49 < i.lat < 54.53
        assert 36.22 < i.lon < 36.30
        assert i.name.startswith("ул. ")
        assert " / ул. " in i.name
    devices = city.devices()
    ids = [d.id for d in devices]
    assert len(ids) == len(set(ids))
    assert all(DEVICE_ID.match(d) for d in ids)
    kinds = {k: [d for d in devices if d.kind is k] for k in DeviceKind}
    assert len(kinds[DeviceKind.TRAFFIC_LIGHT]) == 16
    assert len(kinds[DeviceKind.CAMERA]) == 64  # one per approach
    for district in city.districts:
        assert any(d.district == district.slug for d in kinds[DeviceKind.PARKING])
        assert any(d.district == district.slug for d in kinds[DeviceKind.ECOLOGY])
    for cam in kinds[DeviceKind.CAMERA]:
        assert cam.intersection is not None
        assert f"tl-{cam.intersection}" in ids


def test_generated_city_of_any_size() -> None:
    for n in (1, 7, 120):
        city = generated_city(n, seed=3)
        assert len(city.intersections) == n
        ids = [d.id for d in city.devices()]
        assert len(ids) == len(set(ids))
        assert all(DEVICE_ID.match(d) for d in ids)
    city = generated_city(120, seed=3)
    assert len(city.districts) > 1
    assert generated_city(120, seed=3) == city  # deterministic
    corner = city.intersections[0]
    assert {n.id for n in city.neighbours(corner.id)} == {"r000c001", "r001c000"}


def test_generated_city_mix_is_a_parameter() -> None:
    city = generated_city(30, seed=4, block=3, cameras=("e", "w"), parking=5, stations=3)
    devices = city.devices()
    kinds = {k: [d for d in devices if d.kind is k] for k in DeviceKind}
    assert len(kinds[DeviceKind.TRAFFIC_LIGHT]) == 30
    assert len(kinds[DeviceKind.CAMERA]) == 60
    assert {d.attributes["approach"] for d in kinds[DeviceKind.CAMERA]} == {"e", "w"}
    for district in city.districts:
        mine = [d for d in devices if d.district == district.slug]
        assert sum(d.kind is DeviceKind.PARKING for d in mine) == 5
        assert sum(d.kind is DeviceKind.ECOLOGY for d in mine) == 3
    ids = [d.id for d in devices]
    assert len(ids) == len(set(ids))
    assert len({(d.lat, d.lon) for d in kinds[DeviceKind.PARKING]}) == len(city.parking)
    # Growing the mix leaves the default city's crossings as they were.
    assert generated_city(30, seed=4, block=3).intersections[7].weight == (
        city.intersections[7].weight
    )


def test_generated_city_refuses_unknown_approaches() -> None:
    with pytest.raises(ValueError, match="approaches"):
        generated_city(4, cameras=("north",))


def test_large_city_meets_its_floors_in_districts() -> None:
    city = large_city(seed=1)
    devices = city.devices()
    assert len(devices) >= 10_000
    kinds = {k: [d for d in devices if d.kind is k] for k in DeviceKind}
    assert len(kinds[DeviceKind.TRAFFIC_LIGHT]) >= 2000
    assert len(kinds[DeviceKind.CAMERA]) >= 4000
    assert len(kinds[DeviceKind.PARKING]) >= 3500
    assert len(kinds[DeviceKind.ECOLOGY]) >= 500
    ids = [d.id for d in devices]
    assert len(ids) == len(set(ids))
    assert all(DEVICE_ID.match(d) for d in ids)
    slugs = {d.slug for d in city.districts}
    assert len(slugs) >= 10
    for slug in slugs:  # every district has every kind
        assert {d.kind for d in devices if d.district == slug} == set(DeviceKind)
    assert {d.district for d in devices} == slugs


def test_large_city_is_deterministic_by_seed() -> None:
    assert large_city(seed=3).devices() == large_city(seed=3).devices()
    one, two = large_city(seed=3), large_city(seed=4)
    assert [d.id for d in one.devices()] == [d.id for d in two.devices()]
    assert [i.lat for i in one.intersections] != [i.lat for i in two.intersections]


def test_batched_kinds_register_their_gateway_window() -> None:
    # Silence is judged against how often data arrives: a batch per window.
    city = large_city()
    for d in city.devices():
        expected = max(city.intervals.of(d.kind), city.gateway_s.get(d.kind, 0.0))
        assert d.report_interval_s == expected
    cameras = [d for d in city.devices() if d.kind is DeviceKind.CAMERA]
    assert cameras[0].report_interval_s > city.intervals.camera_s


def test_named_cities_are_those_the_command_offers() -> None:
    assert tuple(CITIES) == CITY_NAMES
    assert CITIES["kaluga"](5) == preset_city()
    assert CITIES["large"](2) == large_city(seed=2)
