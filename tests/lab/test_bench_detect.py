"""``citypulse bench detect``: the city set over the preset city, and the synthetic series."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest

from citypulse import DeviceKind
from citypulse.cli import main
from detectors._rows import READING_ROWS, DeadLetterRow, StatusRow
from lab._bench_detect import _CITY_START, city_events, measure_city

_READING_RECORDS = frozenset(READING_ROWS.values())


def test_the_city_events_are_every_kinds_readings_statuses_and_dead_letters_in_time_order() -> None:
    events, sim = city_events(2.0, seed=3, warmup_hours=1.0)
    kinds = Counter(type(e) for e in events)
    assert all(kinds[record] > 0 for record in READING_ROWS.values()), kinds
    assert {e.device_id for e in events} <= {d.id for d in sim.devices}
    times = [e.time for e in events]
    assert times == sorted(times)
    start = _CITY_START.timestamp()
    assert start - 3600.0 <= times[0]
    assert times[-1] < start + 2 * 3600.0
    # at one instant readings come before statuses and dead letters, as a replay reads them
    rank = {StatusRow: 1, DeadLetterRow: 2}
    for a, b in itertools.pairwise(events):
        if a.time == b.time:
            assert rank.get(type(a), 0) <= rank.get(type(b), 0)
    # the same city every time for the same seed
    again, _ = city_events(2.0, seed=3, warmup_hours=1.0)
    assert again == events


def test_the_city_set_is_timed_over_the_readings_of_the_stretch_after_the_warm_up() -> None:
    events, sim = city_events(2.0, seed=3, warmup_hours=2.0)
    start = _CITY_START.timestamp()
    timed = [e for e in events if e.time >= start]
    readings = sum(1 for e in timed if type(e) in _READING_RECORDS)
    run = measure_city(2.0, seed=3)
    assert run.devices == len(sim.devices)
    assert run.events == len(timed)
    # every reading of the stretch is judged once (a reading repeated for the same series
    # and time is not judged again)
    assert 0.98 * readings <= run.readings <= readings
    assert run.cpu_s > 0.0
    assert len(run.hourly) == 2
    assert run.rate == pytest.approx(run.readings / run.cpu_s)


def test_bench_quick_reports_the_city_set_beside_the_synthetic_series(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["bench", "detect", "--quick", "--json", "--readings", "20000", "--city-hours", "4"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["city_hours"] == 1
    assert doc["city_devices"] > len(DeviceKind)
    assert doc["city_readings"] > 0
    assert doc["city_readings_per_s"] > 0
    assert doc["city_vs_baseline"] == pytest.approx(
        doc["city_readings_per_s"] / doc["baseline_readings_per_s"], rel=1e-3, abs=1e-4
    )
    assert doc["default_readings_per_s"] > 0
    assert doc["baseline_readings_per_s"] > doc["default_readings_per_s"]
    assert doc["baseline_readings_per_s"] > doc["city_readings_per_s"]


def test_a_city_stretch_of_no_hours_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "detect", "--city-hours", "0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--city-hours" in err[-1]
