"""The scenario evaluation: scoring rules on a known case, and a small end-to-end run."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from citypulse.cli import main
from citypulse.db import connect, upsert_devices
from detectors._city import CityConfig
from lab._eval_scenario import (
    Found,
    Truth,
    city_config,
    city_setting,
    run_scenario,
    score,
    store_via_mqtt,
)
from simulator import Simulation, faults_from_spec, preset_city, read_ground_truth

H = 3600.0


def _fault(kind: str, device: str, *, at: str, duration: str) -> dict[str, str]:
    """One fault of a scenario document, as :func:`run_scenario` reads it."""
    return {"type": kind, "device": device, "at": at, "duration": duration}


def test_precision_recall_and_delay_on_a_known_case() -> None:
    truth = [
        Truth("f1", "power_loss", ("cam-a",), 1000.0, 1000.0 + H),
        Truth("f2", "stuck_phase", ("tl-b",), 5000.0, 5000.0 + H),
        Truth("f3", "congestion", ("cam-c", "cam-d"), 9000.0, 9000.0 + H, {"cam-d": 9600.0}),
        Truth("f4", "sensor_drift", ("eco-e",), 20000.0, 20000.0 + H),
    ]
    incidents = [
        Found(1, "device_silent", "cam-a", 1000.0),  # found, no delay
        Found(2, "stuck_phase", "tl-b", 5180.0),  # found after 3 min
        Found(3, "congestion", "cam-c", 9120.0),  # found after 2 min
        Found(4, "congestion", "cam-d", 8880.0, 9300.0),  # over before cam-d's onset
        Found(5, "air_quality_exceedance", "eco-e", 20000.0),  # explains, does not find
        Found(6, "anomaly", "cam-a", 30000.0),  # nothing explains this
        Found(7, "device_silent", "cam-a", 99_999.0),  # outside the scored period
    ]
    result = score(truth, incidents, start=0.0, end=50_000.0)
    assert result.incidents == 6
    assert result.explained == 4  # 1, 2, 3 and 5
    assert result.precision == pytest.approx(4 / 6)
    assert result.recall == pytest.approx(3 / 5)  # pairs: a, b, c, d, e; found: a, b, c
    assert result.by_type["power_loss"].delays == [0.0]
    assert result.by_type["stuck_phase"].delays == [180.0]
    assert result.by_type["congestion"].found == 1
    assert result.by_type["sensor_drift"].found == 0
    assert sorted(i.id for i in result.unexplained) == [4, 6]
    assert result.immediate_delays() == [0.0]
    assert [(f.id, device) for f, device in result.missed] == [("f3", "cam-d"), ("f4", "eco-e")]


def test_an_incident_open_at_the_onset_covers_the_fault() -> None:
    truth = [Truth("f1", "air_quality_exceedance", ("eco-a",), 10 * H, 12 * H)]
    still_open = [Found(1, "air_quality_exceedance", "eco-a", 2 * H, None)]
    resolved = [Found(1, "air_quality_exceedance", "eco-a", 2 * H, 5 * H)]
    assert score(truth, still_open, start=0.0, end=20 * H).recall == 1.0
    assert (
        score(truth, still_open, start=0.0, end=20 * H).by_type["air_quality_exceedance"].covered
        == 1
    )
    assert score(truth, resolved, start=0.0, end=20 * H).recall == 0.0


def test_set_gives_the_city_set_a_threshold_and_keeps_the_other_defaults() -> None:
    settings = [city_setting("collapse_expected=12"), city_setting(" lamp_reports = 3")]
    settings.append(city_setting("collapse_expected=10.5"))  # the last of a name wins
    config = city_config(settings, seed=7)
    assert config == CityConfig(collapse_expected=10.5, lamp_reports=3, seed=7)
    assert type(config.lamp_reports) is int
    assert city_setting("air_lasts_s=0") == ("air_lasts_s", 0.0)  # its default is 0


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("collapse_expected", "NAME=VALUE"),
        ("no_such_threshold=3", "collapse_expected"),
        ("seed=3", "NAME=VALUE"),
        ("multivariate=3", "NAME=VALUE"),
        ("collapse_expected=many", "not a number"),
        ("collapse_expected=0", "more than 0"),
        ("collapse_expected=nan", "finite"),
        ("lamp_reports=2.5", "whole number"),
    ],
)
def test_a_wrong_set_is_one_line_and_exit_2(
    value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["eval", "scenario", "--set", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert says in err[-1]
    assert "Traceback" not in "\n".join(err)


@pytest.mark.slow
@pytest.mark.parametrize(("expected", "found"), [(None, 1), (1e6, 0)])
def test_set_reaches_the_detectors_of_the_run(
    db_url: str, expected: float | None, found: int
) -> None:
    """A lens covered in the morning rush is found by the default set and missed when
    ``--set collapse_expected`` asks for a million vehicles' worth of zeros."""
    spec = {
        "faults": [_fault("camera_obstructed", "cam-kirova-pushkina-w", at="40m", duration="1h")]
    }
    settings = () if expected is None else (("collapse_expected", expected),)
    result, _, _ = run_scenario(
        db_url,
        start=datetime.fromisoformat("2026-03-02T08:00:00+03:00"),
        days=0.1,
        warmup_days=0.05,
        rate=0.0,
        seed=3,
        spec=spec,
        settings=settings,
    )
    assert result.by_type["camera_obstructed"].found == found


@pytest.mark.slow
def test_a_small_known_scenario_end_to_end(db_url: str) -> None:
    start = datetime.fromisoformat("2026-03-02T12:00:00+03:00")
    spec = {
        "faults": [
            _fault("power_loss", "cam-kirova-pushkina-n", at="30m", duration="40m"),
            _fault("lamp_failure", "tl-lenina-teatralnaya", at="1h", duration="1h"),
            _fault("flashing_yellow", "tl-kirova-pushkina", at="20m", duration="30m"),
        ]
    }
    result, run, truth = run_scenario(
        db_url, start=start, days=0.125, warmup_days=0.05, rate=0.0, seed=3, spec=spec
    )
    assert run.faults == 3
    assert len(truth) == 3
    assert run.readings > 10_000
    assert result.recall == 1.0
    assert {k: s.found for k, s in result.by_type.items()} == {
        "power_loss": 1,
        "lamp_failure": 1,
        "flashing_yellow": 1,
    }
    assert result.precision == result.explained / result.incidents
    assert result.precision >= 0.75
    assert result.by_type["power_loss"].delays == [0.0]
    assert 0.0 < result.by_type["flashing_yellow"].delays[0] <= 120.0


@pytest.mark.slow
def test_the_same_scenario_through_mosquitto_and_ingest(db_url: str, tmp_path: Path) -> None:
    start = datetime.fromisoformat("2026-03-02T12:00:00+03:00")
    spec = {
        "faults": [
            _fault("power_loss", "cam-kirova-pushkina-n", at="30m", duration="40m"),
            _fault("malformed_payload", "tl-kirova-pushkina", at="20m", duration="30m"),
        ]
    }
    result, run, _ = run_scenario(
        db_url,
        start=start,
        days=0.1,
        warmup_days=0.02,
        rate=0.0,
        seed=3,
        spec=spec,
        mqtt_dir=tmp_path,
    )
    assert run.dead_letters > 0
    assert result.recall == 1.0
    assert result.by_type["power_loss"].delays[0] <= 60.0
    # The dead letters were placed where they happened: found within two minutes.
    assert result.by_type["malformed_payload"].delays[0] <= 120.0


@pytest.mark.slow
def test_through_mosquitto_what_has_no_time_of_its_own_is_placed_where_it_was_sent(
    db_url: str, tmp_path: Path
) -> None:
    """A power loss's offline status and the dead letters of corrupted payloads are put at
    the simulated times they were sent, exactly, not where the wall clock of their arrival
    maps at 600 x speed (under load, a tenth of a second is a minute of simulated time)."""
    start = datetime.fromisoformat("2026-03-02T12:00:00+03:00")
    spec = {
        "faults": [
            _fault("power_loss", "cam-kirova-pushkina-n", at="10m", duration="20m"),
            _fault("malformed_payload", "tl-kirova-pushkina", at="5m", duration="15m"),
        ]
    }
    city = preset_city()
    end = start + timedelta(minutes=40)
    faults = faults_from_spec(spec, city, start=start, end=end, seed=3)
    sim = Simulation(city, start=start, end=end, seed=3, faults=faults)
    with connect(db_url) as conn:
        upsert_devices(conn, sim.devices)
        conn.commit()
    run = store_via_mqtt(db_url, sim, tmp_path)
    wills = [(m.device_id, m.t) for m in sim.messages() if m.last_will]
    corrupted = sorted(m.t for m in sim.messages() if not m.valid)
    assert wills
    assert corrupted
    assert run.dead_letters == len(corrupted)
    with connect(db_url) as conn:
        offline = conn.execute(
            "SELECT device_id, extract(epoch FROM time)::float8 FROM device_status "
            "WHERE NOT online ORDER BY time"
        ).fetchall()
        dead = conn.execute(
            "SELECT extract(epoch FROM received_at)::float8 FROM dead_letters ORDER BY 1"
        ).fetchall()
    assert [d for d, _ in offline] == [d for d, _ in wills]
    assert [t for _, t in offline] == pytest.approx([t for _, t in wills], abs=1e-3)
    assert [t for (t,) in dead] == pytest.approx(corrupted, abs=1e-3)


@pytest.mark.slow
def test_a_small_run_at_half_severity(db_url: str, tmp_path: Path) -> None:
    """CI's one run of the detection curve's kind: weaker faults, drawn and recorded."""
    truth_path = tmp_path / "truth.jsonl"
    result, run, truth = run_scenario(
        db_url,
        start=datetime.fromisoformat("2026-03-02T06:00:00+03:00"),
        days=0.25,
        warmup_days=0.25,
        rate=48.0,
        seed=2,
        severity=0.5,
        truth_path=truth_path,
    )
    assert run.faults == len(truth) > 0
    recorded = read_ground_truth(truth_path)
    assert {f["severity"] for f in recorded} == {0.5}
    spikes = [float(f["params"]["factor"]) for f in recorded if f["type"] == "spike"]
    assert all(2.0 <= s <= 6.5 for s in spikes)
    assert 0.0 <= result.recall <= 1.0
    assert result.incidents > 0
