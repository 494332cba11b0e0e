"""The generator core: reproducible, contract-shaped, and the series have the right shape."""

from __future__ import annotations

import itertools
import json
import re
import statistics
from collections import defaultdict
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from citypulse import AIR_LIMITS, READING_TYPES, DeviceKind
from simulator import (
    Message,
    Simulation,
    batched,
    generated_city,
    preset_city,
    simulate,
)
from simulator._signals import local_hour

# Monday 2026-11-23 00:00 Moscow time, and the Saturday after.
MONDAY = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
SATURDAY = MONDAY + timedelta(days=5)
TOPIC = re.compile(
    r"^city/[a-z0-9-]+/(traffic_light|camera|parking|ecology)/[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}/(telemetry|status)$"
)


def _day(start: datetime, seed: int = 5) -> list[Message]:
    return list(
        simulate(generated_city(2, seed=1), start=start, duration=timedelta(days=1), seed=seed)
    )


@pytest.fixture(scope="module")
def weekday() -> list[Message]:
    return _day(MONDAY)


@pytest.fixture(scope="module")
def weekend() -> list[Message]:
    return _day(SATURDAY)


def _readings(messages: list[Message], kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if f"/{kind}/" in m.topic and m.topic.endswith("/telemetry"):
            body = json.loads(m.payload)
            for r in body if isinstance(body, list) else [body]:
                r["_t"] = m.t
                r["_device"] = m.device_id
                out.append(r)
    return out


def test_seeded_runs_are_reproducible() -> None:
    city = preset_city()
    span = timedelta(minutes=20)
    a = list(simulate(city, start=MONDAY, duration=span, seed=11))
    b = list(simulate(city, start=MONDAY, duration=span, seed=11))
    c = list(simulate(city, start=MONDAY, duration=span, seed=12))
    assert a == b
    assert [m.payload for m in a] != [m.payload for m in c]
    sim = Simulation(city, start=MONDAY, end=MONDAY + span, seed=11)
    assert list(sim.messages()) == a  # replaying one simulation gives the same again


def test_messages_follow_the_wire_contract(weekday: list[Message]) -> None:
    assert [m.t for m in weekday] == sorted(m.t for m in weekday)
    allowed = {
        kind.value: {f.name for f in fields(cls)} - {"device_id", "time_from_receiver"}
        for kind, cls in READING_TYPES.items()
    }
    statuses = set()
    for m in weekday:
        assert TOPIC.match(m.topic), m.topic
        kind = m.topic.split("/")[2]
        body = json.loads(m.payload)
        if m.topic.endswith("/status"):
            assert m.retain
            assert body["online"] is True
            statuses.add(m.device_id)
            continue
        assert not m.retain
        for reading in body if isinstance(body, list) else [body]:
            assert set(reading) <= allowed[kind], set(reading) - allowed[kind]
            assert "time" in reading
            if isinstance(reading["time"], str):
                assert datetime.fromisoformat(reading["time"]).utcoffset() is not None
    assert len(statuses) == len(generated_city(2, seed=1).devices())


def _hourly_mean(readings: list[dict[str, Any]], key: str, hours: tuple[float, float]) -> float:
    lo, hi = hours
    values = [float(r[key]) for r in readings if lo <= local_hour(float(r["_t"])) < hi and key in r]
    return statistics.fmean(values)


def test_traffic_peaks_at_rush_hours_and_weekends_differ(
    weekday: list[Message], weekend: list[Message]
) -> None:
    cams = _readings(weekday, "camera")
    night = _hourly_mean(cams, "intensity", (2, 4))
    morning = _hourly_mean(cams, "intensity", (7.5, 8.5))
    midday = _hourly_mean(cams, "intensity", (12, 14))
    evening = _hourly_mean(cams, "intensity", (17.5, 18.5))
    assert morning > 4 * night
    assert evening > 4 * night
    assert morning > midday * 1.15
    assert evening > midday * 1.15
    sat = _readings(weekend, "camera")
    assert _hourly_mean(sat, "intensity", (7.5, 8.5)) < 0.5 * morning  # no commute on Saturday
    assert _hourly_mean(sat, "intensity", (13, 15)) > 4 * night


def test_speed_falls_as_occupancy_rises(weekday: list[Message]) -> None:
    cams = [r for r in _readings(weekday, "camera") if "average_vehicle_speed" in r]
    lanes: dict[tuple[object, object], list[tuple[float, float]]] = defaultdict(list)
    for r in cams:
        lanes[r["_device"], r["lane_id"]].append(
            (float(r["occupancy"]), float(r["average_vehicle_speed"]))
        )
    for series in lanes.values():
        occ, speed = zip(*series, strict=True)
        assert statistics.correlation(occ, speed) < -0.5
    # Across every lane, mean speed falls bin by bin as occupancy rises.
    bins: dict[int, list[float]] = defaultdict(list)
    for r in cams:
        bins[min(4, int(float(r["occupancy"]) / 0.05))].append(float(r["average_vehicle_speed"]))
    means = [statistics.fmean(bins[b]) for b in sorted(bins) if len(bins[b]) >= 30]
    assert len(means) >= 3
    assert means == sorted(means, reverse=True)
    peak = _hourly_mean(cams, "average_vehicle_speed", (17.5, 18.5))
    night = _hourly_mean(cams, "average_vehicle_speed", (2, 4))
    assert night > peak + 5


def test_signal_phases_are_legal_with_realistic_splits(weekday: list[Message]) -> None:
    legal = {("green", "yellow"), ("yellow", "red"), ("red", "red_yellow"), ("red_yellow", "green")}
    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _readings(weekday, "traffic_light"):
        by_device[str(r["_device"])].append(r)
    assert by_device
    for series in by_device.values():
        durations: dict[str, list[float]] = defaultdict(list)
        changes = 0
        for prev, cur in itertools.pairwise(series):
            if cur["phase"] == prev["phase"]:
                assert float(cur["phase_elapsed"]) > float(prev["phase_elapsed"])
                continue
            assert (prev["phase"], cur["phase"]) in legal
            assert cur["phase_elapsed"] == 0
            durations[str(prev["phase"])].append(
                float(cur["_t"]) - float(prev["_t"]) + float(prev["phase_elapsed"])
            )
            changes += 1
        assert changes > 3000  # about 1,100 cycles of four phases a day
        assert set(durations["yellow"]) == {3.0}
        assert set(durations["red_yellow"]) == {2.0}
        assert min(durations["green"]) >= 20
        assert max(durations["green"]) <= 60
        cycles = {r["cycle_length"] for r in series}
        assert cycles == {60, 80, 100}  # night, day and peak plans
        gaps = [float(b["_t"]) - float(a["_t"]) for a, b in itertools.pairwise(series)]
        assert max(gaps) <= 60.0  # heartbeat


def test_parking_fills_in_business_hours_and_homes_at_night(weekday: list[Message]) -> None:
    city = generated_city(2, seed=1)
    lots = {p.id: p for p in city.parking}
    readings = _readings(weekday, "parking")
    for lot_id, lot in lots.items():
        series = [r for r in readings if r["_device"] == lot_id]
        share = [
            (local_hour(float(r["_t"])), int(r["occupied_spot_number"]) / lot.total_spots)
            for r in series
        ]
        night = statistics.fmean(s for h, s in share if 1 <= h < 5)
        day = statistics.fmean(s for h, s in share if 11 <= h < 16)
        if lot.profile.value == "business":
            assert day > night + 0.5
        elif lot.profile.value == "residential":
            assert night > day + 0.2
        for r in series:
            assert int(r["occupied_spot_number"]) <= int(r["total_spot_number"]) - int(
                r["out_of_service_slot_number"]
            )


def test_air_and_noise_follow_traffic_within_limits(weekday: list[Message]) -> None:
    eco = _readings(weekday, "ecology")
    assert _hourly_mean(eco, "laeq", (17, 19)) > _hourly_mean(eco, "laeq", (2, 4)) + 6
    assert _hourly_mean(eco, "no2", (17, 20)) > 1.5 * _hourly_mean(eco, "no2", (3, 5))
    pm25 = [float(r["pm25"]) for r in eco]
    limit = AIR_LIMITS["pm25"]
    assert statistics.fmean(pm25) < limit.daily_in_unit  # no fault injected
    assert max(pm25) < limit.max_single_in_unit
    for r in eco:
        assert 0 <= float(r["relative_humidity"]) <= 1
        assert float(r["pm10"]) >= float(r["pm25"])


def test_batches_carry_every_reading_in_order(weekday: list[Message]) -> None:
    window = weekday[:5000]
    merged = list(batched(window, 300.0))
    assert len(merged) < len(window) / 2
    assert [m.t for m in merged] == sorted(m.t for m in merged)

    def count(messages: list[Message]) -> dict[str, int]:
        n: dict[str, int] = defaultdict(int)
        for m in messages:
            body = json.loads(m.payload)
            n[m.topic] += len(body) if isinstance(body, list) else 1
        return n

    assert count(merged) == count(window)
    assert all(len(m.payload) <= 256 * 1024 for m in merged)
    from ingest import Decoder

    decoder = Decoder(root="city")
    for m in merged:
        assert not decoder.decode(m.topic, m.payload, MONDAY + timedelta(days=1)).rejections


def test_devices_are_independent_of_the_city_around_them() -> None:
    small = list(
        simulate(generated_city(2, seed=1), start=MONDAY, duration=timedelta(hours=1), seed=3)
    )
    large = list(
        simulate(generated_city(2, seed=1), start=MONDAY, duration=timedelta(hours=1), seed=3)
    )
    assert small == large
    one = [m for m in small if m.device_id == "tl-r000c000"]
    assert one
    assert all(m.device_id == "tl-r000c000" for m in one)
    assert DeviceKind.TRAFFIC_LIGHT.value in one[0].topic
