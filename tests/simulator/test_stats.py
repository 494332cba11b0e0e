"""What a run offers, counted from the generator's schedule: the large city's rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from citypulse import DeviceKind
from simulator import (
    City,
    Message,
    Simulation,
    large_city,
    random_faults,
    read_ground_truth,
    schedule_stats,
    write_ground_truth,
)

MONDAY = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 08:00 МСК, a weekday's morning peak


@pytest.fixture(scope="module")
def city() -> City:
    return large_city(seed=1)


@pytest.mark.slow
def test_large_city_offers_5000_readings_per_second_at_speed_1(city: City) -> None:
    span = 30.0  # one parking interval: every lot reports once
    sim = Simulation(city, start=MONDAY, end=MONDAY + timedelta(seconds=span), seed=1)
    messages = list(sim.published())
    stats = schedule_stats(messages, sim.devices, span_s=span)
    assert stats.readings_per_s >= 5000
    assert set(stats.readings_by_kind) == set(DeviceKind)
    assert sum(stats.readings_by_kind.values()) == stats.readings
    # Counted independently: every object of every valid telemetry payload.
    objects = 0
    for m in messages:
        if not m.retain:
            body = orjson.loads(m.payload)
            objects += len(body) if isinstance(body, list) else 1
    assert stats.readings == objects
    # Controllers report their state every second, so about one reading each a second.
    lights = sum(d.kind is DeviceKind.TRAFFIC_LIGHT for d in sim.devices)
    assert stats.readings_by_kind[DeviceKind.TRAFFIC_LIGHT] >= lights * span


def _district_run(city: City, minutes: float) -> tuple[Simulation, list[Message]]:
    district = city.districts[0].slug
    mine = [d.id for d in city.devices() if d.district == district]
    end = MONDAY + timedelta(minutes=minutes)
    sim = Simulation(city, start=MONDAY, end=end, seed=1, only=mine)
    return sim, list(sim.published())


def test_only_gateway_kinds_batch_and_a_batch_is_a_window_of_reports(city: City) -> None:
    # Ten minutes (two parking windows) of one district: the city's districts are alike.
    sim, messages = _district_run(city, 10)
    kinds = {d.id: d.kind for d in sim.devices}
    reports: dict[DeviceKind, set[int]] = {k: set() for k in DeviceKind}
    for m in messages:
        if not m.retain:
            reports[kinds[m.device_id]].add(m.reports)
    assert reports[DeviceKind.TRAFFIC_LIGHT] == {1}
    assert reports[DeviceKind.ECOLOGY] == {1}
    iv, windows = city.intervals, city.gateway_s
    per_camera = round(windows[DeviceKind.CAMERA] / iv.camera_s)
    per_lot = round(windows[DeviceKind.PARKING] / iv.parking_s)
    assert max(reports[DeviceKind.CAMERA]) == per_camera
    assert max(reports[DeviceKind.PARKING]) == per_lot
    stats = schedule_stats(messages, sim.devices, span_s=600.0)
    # The documented share: a batch per window from each camera and lot, among every
    # telemetry message (controllers and stations send each report alone).
    n = {k: sum(d.kind is k for d in sim.devices) for k in DeviceKind}
    batches_per_s = (
        n[DeviceKind.CAMERA] / windows[DeviceKind.CAMERA]
        + n[DeviceKind.PARKING] / windows[DeviceKind.PARKING]
    )
    alone_per_s = (
        stats.messages_by_kind[DeviceKind.TRAFFIC_LIGHT] - n[DeviceKind.TRAFFIC_LIGHT]
    ) / 600.0 + n[DeviceKind.ECOLOGY] / iv.ecology_s
    share = batches_per_s / (batches_per_s + alone_per_s)
    assert stats.batches / stats.telemetry == pytest.approx(share, rel=0.03)
    assert 0.1 < share < 0.3  # docs/simulator.md: about one telemetry message in six


def test_live_faults_across_the_large_city_are_ground_truth(city: City, tmp_path: Path) -> None:
    start, end = MONDAY, MONDAY + timedelta(minutes=30)
    faults = random_faults(city, start=start, end=end, rates=20_000.0, seed=2)
    assert len(faults) >= 100
    assert len({f.type for f in faults}) >= 10
    kinds = {d.id: d.kind for d in city.devices()}
    assert {kinds[d] for f in faults for d in f.devices} == set(DeviceKind)
    assert all(start <= f.start < end for f in faults)
    path = tmp_path / "truth.jsonl"
    assert write_ground_truth(path, faults) == len(faults)
    truth = read_ground_truth(path)
    recorded = {t["id"]: t for t in truth}
    assert sorted(recorded) == sorted(f.id for f in faults)
    for f in faults:
        assert recorded[f.id]["devices"] == list(f.devices)
        assert recorded[f.id]["type"] == f.type.value
        assert datetime.fromisoformat(recorded[f.id]["start"]) == f.start
    # The faulted devices' streams change while the rest of the city's stay as they were.
    hit = sorted({d for f in faults[:20] for d in f.devices})

    def run(with_faults: bool) -> list[Message]:
        sim = Simulation(
            city, start=start, end=end, seed=1, faults=faults if with_faults else (), only=hit
        )
        return list(sim.messages())

    assert run(True) != run(False)


def test_gateways_send_what_they_hold_when_the_run_ends(city: City) -> None:
    sim, messages = _district_run(city, 1.75)  # ends inside every gateway's window
    end = sim.end.timestamp()
    assert max(m.t for m in messages) == end
    lots = [m for m in messages if not m.retain and m.topic.split("/")[2] == "parking"]
    assert lots
    assert {m.t for m in lots} == {end}  # held since their 5-minute window began
    assert max(m.reports for m in lots) == 4  # 105 s of 30-s reports
