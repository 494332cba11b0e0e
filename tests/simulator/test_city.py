"""The city model: a plausible preset and generated cities of any size."""

from __future__ import annotations

from citypulse import DEVICE_ID_RE as DEVICE_ID
from citypulse import DeviceKind
from simulator import generated_city, preset_city


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
