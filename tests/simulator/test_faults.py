"""Each fault type shows in the data as described, and in the ground truth."""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from citypulse import AIR_LIMITS
from ingest import Decoder
from simulator import (
    WILL_PAYLOAD,
    Fault,
    FaultType,
    Message,
    ScenarioError,
    Simulation,
    faults_from_spec,
    generated_city,
    load_scenario,
    preset_city,
    random_faults,
    read_ground_truth,
    write_ground_truth,
)
from simulator._signals import local_hour

# Monday 2026-11-23, 06:00 to 20:00 Moscow time.
START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
END = START + timedelta(hours=14)
CITY = generated_city(4, seed=1)  # a 2x2 grid: r000c000, r000c001, r001c000, r001c001
ECO = "eco-tsentralny-1"

SCENARIO = f"""
faults:
  - {{type: stuck_phase, device: tl-r000c000, at: 1h, duration: 40m}}
  - {{type: flashing_yellow, device: tl-r000c001, at: 2h, duration: 1h}}
  - {{type: lamp_failure, device: tl-r001c000, at: 1h, duration: 2h}}
  - {{type: power_loss, device: tl-r001c001, at: 3h, duration: 30m}}
  - {{type: camera_offline, device: cam-r000c000-n, at: 1h, duration: 1h}}
  - {{type: camera_frozen, device: cam-r000c001-n, at: 2h, duration: 1h}}
  - {{type: camera_obstructed, device: cam-r001c000-n, at: 1h30m, duration: 2h}}
  - {{type: congestion, intersection: r000c000, at: 11h, duration: 90m, spread: 10m, hops: 1}}
  - {{type: parking_stuck, device: pk-tsentralny-1, at: 2h, duration: 4h}}
  - {{type: parking_full, device: pk-tsentralny-2, at: 3h, duration: 3h}}
  - {{type: air_quality_exceedance, device: {ECO}, at: 2h, duration: 4h, pollutant: pm25}}
  - {{type: sensor_drift, device: {ECO}, at: 7h, duration: 6h, field: no2, rate_per_hour: 5}}
  - {{type: spike, device: cam-r001c001-e, at: 5h}}
  - {{type: spike, device: {ECO}, start: "2026-11-23T12:30:00+03:00", field: laeq, factor: 1.6}}
  - {{type: malformed_payload, device: cam-r001c001-w, at: 4h, duration: 20m}}
  - {{type: wrong_units, device: pk-tsentralny-1, at: 7h, duration: 1h}}
  - {{type: wrong_units, device: {ECO}, at: 13h20m, duration: 40m}}
  - {{type: wrong_units, device: tl-r000c001, at: 5h, duration: 30m}}
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "faults.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def faults(scenario_file: Path) -> list[Fault]:
    return load_scenario(scenario_file, CITY, start=START, end=END, seed=3)


@pytest.fixture(scope="module")
def faulty(faults: list[Fault]) -> list[Message]:
    return list(Simulation(CITY, start=START, end=END, seed=3, faults=faults).messages())


@pytest.fixture(scope="module")
def clean() -> list[Message]:
    return list(Simulation(CITY, start=START, end=END, seed=3).messages())


def _fault(faults: list[Fault], ftype: FaultType) -> Fault:
    return next(f for f in faults if f.type is ftype)


def _of(messages: list[Message], device: str, kind: str = "telemetry") -> list[Message]:
    return [m for m in messages if m.device_id == device and m.topic.endswith(kind)]


def _within(messages: list[Message], fault: Fault, device: str | None = None) -> list[Message]:
    lo = fault.onset(device).timestamp() if device else fault.start.timestamp()
    hi = fault.end.timestamp()
    return [m for m in messages if lo <= m.t < hi]


def _outside(messages: list[Message], fault: Fault) -> list[Message]:
    lo, hi = fault.start.timestamp(), fault.end.timestamp()
    return [m for m in messages if not lo <= m.t < hi]


def _rows(messages: list[Message]) -> Iterator[dict[str, Any]]:
    for m in messages:
        body = json.loads(m.payload)
        yield from body if isinstance(body, list) else [body]


def test_every_fault_is_in_the_ground_truth(faults: list[Fault], tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    assert write_ground_truth(path, faults) == len(faults)
    truth = read_ground_truth(path)
    assert {t["type"] for t in truth} == {t.value for t in FaultType}
    expected = {
        "stuck_phase": "stuck_phase",
        "flashing_yellow": "signal_flashing",
        "lamp_failure": "lamp_fault",
        "power_loss": "device_offline",
        "camera_offline": "device_offline",
        "camera_frozen": "camera_frozen",
        "camera_obstructed": "camera_obstructed",
        "congestion": "congestion",
        "parking_stuck": "parking_stuck",
        "parking_full": "parking_full",
        "air_quality_exceedance": "air_quality_exceedance",
        "sensor_drift": "sensor_drift",
        "spike": "spike",
        "malformed_payload": "invalid_payload",
        "wrong_units": "invalid_payload",
    }
    for t in truth:
        assert set(t) >= {"id", "type", "devices", "start", "end", "expected_incident_type"}
        assert t["expected_incident_type"] == expected[t["type"]]
        assert datetime.fromisoformat(t["start"]) < datetime.fromisoformat(t["end"])
        assert t["devices"]
    assert len({t["id"] for t in truth}) == len(truth)
    congestion = next(t for t in truth if t["type"] == "congestion")
    # The queue reaches the neighbours' approaches that lead into the blocked crossing.
    assert set(congestion["devices"]) == {
        "cam-r000c000-n", "cam-r000c000-e", "cam-r000c000-s", "cam-r000c000-w",
        "cam-r001c000-n", "cam-r000c001-e",
    }  # fmt: skip
    assert set(congestion["onsets"]) == {"cam-r001c000-n", "cam-r000c001-e"}


def test_scenario_json_equals_yaml(faults: list[Fault], tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "faults.json"
    path.write_text(json.dumps(yaml.safe_load(SCENARIO)), encoding="utf-8")
    assert load_scenario(path, CITY, start=START, end=END, seed=3) == faults


def test_valid_data_decodes_and_corrupted_data_is_rejected(faulty: list[Message]) -> None:
    decoder = Decoder(root="city")
    received = END + timedelta(minutes=1)
    corrupted = 0
    for m in faulty:
        decoded = decoder.decode(m.topic, m.payload, received)
        if m.valid:
            assert not decoded.rejections, (m, decoded.rejections)
        else:
            corrupted += 1
            if "/camera/" not in m.topic:  # a lane with no vehicles is 0 in any unit
                assert decoded.rejections, m
    assert corrupted > 10


def test_stuck_phase(faulty: list[Message], faults: list[Fault]) -> None:
    fault = _fault(faults, FaultType.STUCK_PHASE)
    inside = list(_rows(_within(_of(faulty, "tl-r000c000"), fault)))
    assert len({r["phase"] for r in inside}) == 1
    assert max(r["phase_elapsed"] for r in inside) > 35 * 60  # normal phases last < 60 s
    assert len(inside) >= 39  # heartbeats continue every 60 s


def test_flashing_yellow(faulty: list[Message], faults: list[Fault]) -> None:
    fault = _fault(faults, FaultType.FLASHING_YELLOW)
    series = _of(faulty, "tl-r000c001")
    assert {r["phase"] for r in _rows(_within(series, fault))} == {"flashing_yellow"}
    assert "flashing_yellow" not in {r["phase"] for r in _rows(_outside(series, fault)) if r}


def test_lamp_failure(faulty: list[Message], faults: list[Fault]) -> None:
    fault = _fault(faults, FaultType.LAMP_FAILURE)
    series = _of(faulty, "tl-r001c000")
    assert {r["lamp_fault"] for r in _rows(_within(series, fault))} == {True}
    assert {r["lamp_fault"] for r in _rows(_outside(series, fault))} == {False}


@pytest.mark.parametrize(
    ("ftype", "device"),
    [(FaultType.POWER_LOSS, "tl-r001c001"), (FaultType.CAMERA_OFFLINE, "cam-r000c000-n")],
)
def test_device_goes_silent_and_its_will_fires(
    faulty: list[Message], faults: list[Fault], ftype: FaultType, device: str
) -> None:
    fault = _fault(faults, ftype)
    assert not _within(_of(faulty, device), fault)
    statuses = _of(faulty, device, "status")
    assert [json.loads(m.payload)["online"] for m in statuses] == [True, False, True]
    will = statuses[1]
    assert will.last_will
    assert will.retain
    assert will.payload == WILL_PAYLOAD
    assert will.t == fault.start.timestamp()
    assert statuses[2].t == fault.end.timestamp()
    after = _of(faulty, device)
    assert any(m.t >= fault.end.timestamp() for m in after)  # it comes back


def test_camera_frozen(faulty: list[Message], faults: list[Fault]) -> None:
    fault = _fault(faults, FaultType.CAMERA_FROZEN)
    inside = _within(_of(faulty, "cam-r000c001-n"), fault)
    assert len(inside) >= 59
    values = {
        json.dumps([{k: v for k, v in r.items() if k != "time"} for r in json.loads(m.payload)])
        for m in inside
    }
    assert len(values) == 1
    before = [m for m in _of(faulty, "cam-r000c001-n") if m.t < fault.start.timestamp()]
    assert len({m.payload for m in before[-20:]}) == 20


def test_camera_obstructed_at_rush_hour(faulty: list[Message], faults: list[Fault]) -> None:
    fault = _fault(faults, FaultType.CAMERA_OBSTRUCTED)
    assert 7.0 <= local_hour(fault.start.timestamp()) < 10.0
    inside = list(_rows(_within(_of(faulty, "cam-r001c000-n"), fault)))
    assert inside
    assert {r["intensity"] for r in inside} == {0}
    others = list(_rows(_within(_of(faulty, "cam-r001c000-s"), fault)))
    assert statistics.fmean(r["intensity"] for r in others) > 3


def test_congestion_spreads_upstream(faulty: list[Message], faults: list[Fault]) -> None:
    fault = _fault(faults, FaultType.CONGESTION)
    for device in fault.devices:
        series = _of(faulty, device)
        inside = list(_rows(_within(series, fault, device)))
        assert inside
        assert all(r["congested"] for r in inside)
        assert statistics.fmean(r["occupancy"] for r in inside) > 0.6
        speeds = [r["average_vehicle_speed"] for r in inside if "average_vehicle_speed" in r]
        assert max(speeds) < 15
        before = [
            m
            for m in series
            if fault.start.timestamp() - 1800 <= m.t < fault.onset(device).timestamp()
        ]
        assert (
            statistics.fmean(
                r["average_vehicle_speed"] for r in _rows(before) if "average_vehicle_speed" in r
            )
            > 25
        )
    upstream = "cam-r001c000-n"
    assert fault.onset(upstream) == fault.start + timedelta(minutes=10)


def test_parking_stuck_and_full(faulty: list[Message], faults: list[Fault]) -> None:
    stuck = _fault(faults, FaultType.PARKING_STUCK)
    inside = list(_rows(_within(_of(faulty, "pk-tsentralny-1"), stuck)))
    assert len(inside) >= 47
    assert len({r["occupied_spot_number"] for r in inside}) == 1
    full = _fault(faults, FaultType.PARKING_FULL)
    free = [
        r["total_spot_number"] - r["out_of_service_slot_number"] - r["occupied_spot_number"]
        for r in _rows(_within(_of(faulty, "pk-tsentralny-2"), full))
    ]
    # full, but turning over: now and then a spot has just been left and not yet retaken
    assert set(free) == {0, 1}
    assert free.count(0) > free.count(1)


def test_air_quality_exceedance_over_sanpin(faulty: list[Message], faults: list[Fault]) -> None:
    fault = _fault(faults, FaultType.AIR_QUALITY_EXCEEDANCE)
    limit = AIR_LIMITS["pm25"]
    max_single, daily = limit.max_single_in_unit, limit.daily_in_unit
    inside = list(_rows(_within(_of(faulty, ECO), fault)))
    assert len(inside) == 12  # four hours of 20-minute readings
    assert all(r["pm25"] > max_single for r in inside)
    outside = list(_rows(_outside(_of(faulty, ECO), fault)))
    assert max(r["pm25"] for r in outside if "pm25" in r) < max_single
    assert statistics.fmean(r["pm25"] for r in inside) > daily


def test_sensor_drift_grows_linearly(
    faulty: list[Message], clean: list[Message], faults: list[Fault]
) -> None:
    fault = _fault(faults, FaultType.SENSOR_DRIFT)
    drifted = list(_rows(_within(_of(faulty, ECO), fault)))
    baseline = list(_rows(_within(_of(clean, ECO), fault)))
    assert len(drifted) == len(baseline) == 18
    for n, (d, b) in enumerate(zip(drifted, baseline, strict=True)):
        hours = (datetime.fromisoformat(d["time"]) - fault.start).total_seconds() / 3600
        assert d["no2"] - b["no2"] == pytest.approx(5 * hours, abs=0.11), n
    assert drifted[-1]["no2"] - baseline[-1]["no2"] > 25


def test_single_spikes(faulty: list[Message], clean: list[Message], faults: list[Fault]) -> None:
    spikes = [f for f in faults if f.type is FaultType.SPIKE]
    assert len(spikes) == 2
    for fault in spikes:
        device = fault.devices[0]
        field = str(fault.params["field"])
        factor = float(fault.params["factor"])
        hit = list(_rows(_within(_of(faulty, device), fault)))
        base = list(_rows(_within(_of(clean, device), fault)))
        spiked = [r for r in hit if r.get("lane_id", 1) == 1]
        assert len(spiked) == 1
        assert spiked[0][field] >= base[0][field] * factor * 0.99
        # Everything outside the device's faults is untouched.
        mine = [f for f in faults if device in f.devices]
        others = [m for m in _of(faulty, device) if not any(_within([m], f) for f in mine)]
        assert others
        assert {m.payload for m in others} <= {m.payload for m in _of(clean, device)}


def test_malformed_payloads_and_wrong_units(faulty: list[Message], faults: list[Fault]) -> None:
    fault = _fault(faults, FaultType.MALFORMED_PAYLOAD)
    inside = _within(_of(faulty, "cam-r001c001-w"), fault)
    assert len(inside) == 20
    assert not any(m.valid for m in inside)
    broken = 0
    for m in inside:
        try:
            json.loads(m.payload)
        except ValueError:
            broken += 1
    assert broken >= 5
    wrong = [f for f in faults if f.type is FaultType.WRONG_UNITS]
    eco = next(f for f in wrong if f.devices == (ECO,))
    rows = list(_rows(_within(_of(faulty, ECO), eco)))
    assert rows
    assert all(r["relative_humidity"] > 1 and r["temperature"] > 200 for r in rows)


def test_random_faults_are_reproducible_and_do_not_overlap() -> None:
    city = preset_city()
    end = START + timedelta(days=7)
    a = random_faults(city, start=START, end=end, rates=30.0, seed=5)
    assert a == random_faults(city, start=START, end=end, rates=30.0, seed=5)
    assert a != random_faults(city, start=START, end=end, rates=30.0, seed=6)
    assert {f.type for f in a} == set(FaultType)
    per_device: dict[str, list[Fault]] = {}
    for f in a:
        assert START <= f.start < f.end <= end
        for d in f.devices:
            per_device.setdefault(d, []).append(f)
        if f.type is FaultType.CAMERA_OBSTRUCTED:
            h = local_hour(f.start.timestamp())
            assert 7 <= h < 10 or 16.5 <= h < 19.5
    for items in per_device.values():
        items.sort(key=lambda f: f.start)
        for x, y in itertools.pairwise(items):
            assert x.end <= y.start


def test_overlapping_takeovers_of_one_device_are_refused() -> None:
    entries = [
        {"type": "power_loss", "device": "tl-r000c000", "at": "1h", "duration": "1h"},
        {"type": "lamp_failure", "device": "tl-r000c000", "at": "1h", "duration": "1h"},
        {"type": "stuck_phase", "device": "tl-r000c000", "at": "90m", "duration": "1h"},
    ]
    assert len(faults_from_spec({"faults": entries[:2]}, CITY, start=START, end=END)) == 2
    with pytest.raises(ScenarioError, match="overlaps f0001"):
        faults_from_spec({"faults": entries}, CITY, start=START, end=END)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "no_such_fault"}, "type must be one of"),
        ({"type": "stuck_phase", "device": "cam-r000c000-n"}, "applies to traffic_light"),
        ({"type": "spike", "device": "nope"}, "no device"),
        ({"type": "lamp_failure", "colour": "red"}, "takes no parameter"),
        ({"type": "lamp_failure", "start": "2026-11-23T08:00:00"}, "UTC offset"),
        ({"type": "lamp_failure", "duration": "soon"}, "not a duration"),
        ({"type": "lamp_failure", "at": "20h"}, "outside the simulated period"),
    ],
)
def test_bad_scenarios_are_refused(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        faults_from_spec({"faults": [entry]}, CITY, start=START, end=END)


def test_faults_already_in_force_when_the_run_starts() -> None:
    city = generated_city(1, seed=1)
    end = START + timedelta(minutes=30)
    spec = {
        "faults": [
            {"type": "stuck_phase", "device": "tl-r000c000", "at": 0, "duration": "10m"},
            {"type": "power_loss", "device": "cam-r000c000-n", "at": 0, "duration": "10m"},
        ]
    }
    faults = faults_from_spec(spec, city, start=START, end=end)
    messages = list(Simulation(city, start=START, end=end, faults=faults).messages())
    light = _of(messages, "tl-r000c000", "status")
    assert [json.loads(m.payload)["online"] for m in light] == [True]
    stuck = list(_rows(_within(_of(messages, "tl-r000c000"), faults[0])))
    assert len({r["phase"] for r in stuck}) == 1
    assert len(stuck) >= 9
    camera = _of(messages, "cam-r000c000-n", "status")
    assert [(m.t, m.last_will) for m in camera] == [
        (START.timestamp(), True),
        ((START + timedelta(minutes=10)).timestamp(), False),
    ]
    assert [m.t for m in messages] == sorted(m.t for m in messages)


def _sizes(faults: list[Fault]) -> dict[str, tuple[str, float]]:
    """Each fault's magnitude, by id: (type, value); level as a multiple of ПДК м.р."""
    out: dict[str, tuple[str, float]] = {}
    for f in faults:
        if f.type is FaultType.SPIKE:
            out[f.id] = (f.type.value, float(f.params["factor"]))
        elif f.type is FaultType.SENSOR_DRIFT:
            out[f.id] = (f.type.value, float(f.params["rate_per_hour"]))
        elif f.type is FaultType.AIR_QUALITY_EXCEEDANCE:
            limit = AIR_LIMITS[str(f.params["pollutant"])].max_single_in_unit
            out[f.id] = (f.type.value, float(f.params["level"]) / limit)
    return out


def test_random_fault_sizes_are_drawn_from_the_documented_ranges() -> None:
    city = preset_city()
    end = START + timedelta(days=14)
    faults = random_faults(city, start=START, end=end, rates=40.0, seed=8)
    sizes = _sizes(faults)
    ranges = {
        "spike": (3.0, 12.0),
        "sensor_drift": (0.5, 2.5),
        "air_quality_exceedance": (1.1, 2.5),
    }
    for kind, (low, high) in ranges.items():
        drawn = [v for k, v in sizes.values() if k == kind]
        assert len(drawn) >= 3
        assert all(low - 0.01 <= v <= high + 0.01 for v in drawn), (kind, drawn)
        assert len(set(drawn)) > len(drawn) // 2  # drawn, not one fixed size
    for f in faults:
        truth = f.ground_truth()
        assert truth["severity"] == 1.0
        assert truth["params"] == dict(f.params)


def test_severity_scales_every_magnitude_and_moves_no_fault() -> None:
    city = preset_city()
    end = START + timedelta(days=14)
    full = random_faults(city, start=START, end=end, rates=40.0, seed=8)
    half = random_faults(city, start=START, end=end, rates=40.0, seed=8, severity=0.5)
    assert [(f.id, f.type, f.devices, f.start, f.end) for f in full] == [
        (f.id, f.type, f.devices, f.start, f.end) for f in half
    ]
    assert {f.ground_truth()["severity"] for f in half} == {0.5}
    a, b = _sizes(full), _sizes(half)
    for fid, (kind, value) in a.items():
        if kind == "sensor_drift":
            assert b[fid][1] == pytest.approx(value * 0.5, abs=0.002)
        else:  # factors: the excess over ×1 is halved, so still a spike, still over the limit
            assert b[fid][1] == pytest.approx(1.0 + (value - 1.0) * 0.5, abs=0.01)


def test_a_scenario_takes_typical_sizes_scaled_and_its_own_values_as_given() -> None:
    spec = {
        "faults": [
            {"type": "spike", "device": ECO, "at": "1h"},
            {"type": "spike", "device": ECO, "at": "2h", "factor": 6},
            {"type": "sensor_drift", "device": ECO, "at": "3h", "duration": "8h"},
        ]
    }
    faults = faults_from_spec(spec, CITY, start=START, end=END, severity=0.5)
    assert [f.params.get("factor", f.params.get("rate_per_hour")) for f in faults] == [
        4.5,
        6.0,
        0.75,
    ]
    with pytest.raises(ScenarioError, match="severity"):
        faults_from_spec(spec, CITY, start=START, end=END, severity=0.0)
