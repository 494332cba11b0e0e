"""Camera detectors: an obstruction is judged against what this hour of the day brings."""

from __future__ import annotations

import math
import random

import pytest

from citypulse import Device, DeviceKind, IncidentType
from detectors._city import CameraMonitor, CityConfig
from detectors._city_cameras import Collapse
from detectors._incidents import Finding, Judgement
from detectors._rows import CameraRow
from tests.detectors._cases import T0

DAY = 86400.0
MIDNIGHT = T0 - T0 % DAY  # the streams are in UTC; the profile does not care whose hours


def _rate(t: float) -> float:
    """Vehicles per minute on a lane: a few at night, a dozen by day."""
    h = (t % DAY) / 3600.0
    day = 1.0 / (1.0 + math.exp(-(h - 7.0) * 2.0)) / (1.0 + math.exp((h - 20.0) * 1.5))
    return 0.25 + 12.0 * day


def _poisson(rng: random.Random, lam: float) -> float:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return float(k)
        k += 1


def _trained(rng: random.Random, days: int = 4) -> tuple[Collapse, list[float]]:
    det = Collapse()
    scores = []
    for i in range(int(days * DAY / 60)):
        t = MIDNIGHT + 60.0 * i
        scores.append(det.update(t, _poisson(rng, _rate(t))))
    return det, scores


def test_normal_days_and_nights_raise_nothing() -> None:
    _, scores = _trained(random.Random(5))
    assert max(scores) == 0.0


def test_an_obstruction_starting_at_night_is_found_before_morning() -> None:
    det, _ = _trained(random.Random(6))
    start = MIDNIGHT + 4 * DAY + 3600.0  # 01:00, about a car every four minutes
    fired = [det.update(start + 60.0 * k, 0.0) for k in range(150)]
    assert 1.0 in fired
    assert fired.index(1.0) <= 120  # within two hours of zeros


def test_an_obstruction_in_the_mornings_rise_is_judged_by_the_rate_of_that_minute() -> None:
    """At 07:00 the lane brings about six vehicles a minute, rising fast: the hour's mean
    is higher and the last half hour's level lower.  The expectation follows the
    profile between hours and scales by the level against what the profile expected of
    the same readings, so the first zero expects the minute's own rate, and 16 expected
    vehicles are reached on the third zero (an expectation built on the level alone came
    a fifth low and needed a fourth)."""
    for seed in range(5):
        rng = random.Random(seed)
        det = Collapse()
        start = MIDNIGHT + 4 * DAY + 7 * 3600.0
        t = MIDNIGHT
        while t < start:
            assert det.update(t, _poisson(rng, _rate(t))) == 0.0
            t += 60.0
        assert det.update(start, 0.0) == 0.0
        assert det.expectation == pytest.approx(_rate(start), rel=0.1)
        assert det.update(start + 60.0, 0.0) == 0.0
        assert det.update(start + 120.0, 0.0) == 1.0


def test_a_spike_does_not_make_the_night_zeros_that_follow_an_obstruction() -> None:
    rng = random.Random(7)
    det, _ = _trained(rng)
    t0 = MIDNIGHT + 4 * DAY + 23.5 * 3600.0
    det.update(t0, 200.0)  # one wild count late in the evening
    fired = [det.update(t0 + 60.0 * k, _poisson(rng, _rate(t0 + 60.0 * k))) for k in range(1, 300)]
    assert max(fired) == 0.0


def test_a_quiet_holiday_morning_is_not_an_obstruction() -> None:
    rng = random.Random(8)
    det, _ = _trained(rng)
    t0 = MIDNIGHT + 4 * DAY + 4 * 3600.0
    fired = [
        det.update(t, _poisson(rng, 0.03))  # a holiday: the morning stays as quiet as the night
        for t in (t0 + 60.0 * k for k in range(6 * 60))
    ]
    assert max(fired) == 0.0


def test_zeros_between_dead_letters_are_no_obstruction() -> None:
    rng = random.Random(10)
    cam = Device(id="cam-1", kind=DeviceKind.CAMERA, report_interval_s=60.0)
    mon = CameraMonitor(cam, CityConfig())
    found: list[Judgement] = []
    for i in range(int(5 * DAY / 60)):
        t = MIDNIGHT + 60.0 * i
        n = _poisson(rng, _rate(t))
        if t >= MIDNIGHT + 4 * DAY + 2 * 3600.0 and n > 0:
            # wrong units from 02:00: a report with vehicles (occupancy in percent) is
            # refused, an empty one (occupancy 0) still passes
            mon.dead_letter(t, "invalid", "occupancy 0..1", found)
            continue
        row = CameraRow(cam.id, t, 1, int(n), 40.0 if n else None, 0.1 if n else 0.0, None, t)
        mon.reading(row, found)
    assert [
        f
        for f in found
        if isinstance(f, Finding) and f.type is IncidentType.CAMERA_OBSTRUCTED and f.alarm
    ] == []


def test_a_count_far_above_the_hours_normal_is_an_anomaly_below_countspikes_floor() -> None:
    """Two and a half times the count plus ten at 13:00: under CountSpike's floor (four
    times the level plus ten), yet far above what this lane's early afternoon brings."""
    rng = random.Random(11)
    cam = Device(id="cam-1", kind=DeviceKind.CAMERA, report_interval_s=60.0)
    mon = CameraMonitor(cam, CityConfig())
    found: list[Judgement] = []
    spike_at = MIDNIGHT + 3 * DAY + 13 * 3600.0
    for i in range(int(3.75 * DAY / 60)):
        t = MIDNIGHT + 60.0 * i
        n = _poisson(rng, 3.0 * _rate(t))
        if t == spike_at:
            n = round(2.5 * max(n, 3.0)) + 10.0
        row = CameraRow(cam.id, t, 1, int(n), 40.0 if n else None, 0.1 if n else 0.0, None, t)
        mon.reading(row, found)
    anomalies = [
        f for f in found if isinstance(f, Finding) and f.type is IncidentType.ANOMALY and f.alarm
    ]
    assert [(f.t, f.detector) for f in anomalies] == [(spike_at, "SeasonalStream")]


def test_a_camera_blinded_in_a_busy_hour_is_found_on_its_first_zero() -> None:
    """Where twenty-odd vehicles a minute are expected, one empty report has a chance of
    about e^-24 under Poisson: no second minute is needed."""
    rng = random.Random(12)
    det = Collapse()
    for i in range(int((4 * DAY + 13 * 3600.0) / 60)):  # four days, then to 13:00
        t = MIDNIGHT + 60.0 * i
        assert det.update(t, _poisson(rng, 2.0 * _rate(t))) == 0.0
    assert det.update(MIDNIGHT + 4 * DAY + 13 * 3600.0, 0.0) == 1.0


def _two_lane_camera(rng: random.Random, days: int = 4) -> tuple[CameraMonitor, float]:
    """A camera over two lanes of about five vehicles a minute by day, trained for
    ``days``; returns it and the time after its last report."""
    cam = Device(id="cam-2", kind=DeviceKind.CAMERA, report_interval_s=60.0)
    mon = CameraMonitor(cam, CityConfig())
    sink: list[Judgement] = []
    end = MIDNIGHT + days * DAY + 13 * 3600.0
    t = MIDNIGHT
    while t < end:
        for lane in (1, 2):
            n = int(_poisson(rng, 0.4 * _rate(t)))
            mon.reading(_camera_row(cam.id, t, lane, n), sink)
        t += 60.0
    assert _obstructions(sink) == []
    return mon, end


def _camera_row(device: str, t: float, lane: int, n: int) -> CameraRow:
    return CameraRow(device, t, lane, n, 40.0 if n else None, 0.1 if n else 0.0, None, t)


def _obstructions(found: list[Judgement]) -> list[Finding]:
    return [
        f
        for f in found
        if isinstance(f, Finding) and f.type is IncidentType.CAMERA_OBSTRUCTED and f.alarm
    ]


def test_a_blinded_camera_is_judged_on_all_its_lanes_together() -> None:
    """At 13:00 each lane expects about five vehicles a minute: one lane's zeros reach the
    threshold (16) in the fourth minute, the two lanes' together in the second."""
    mon, start = _two_lane_camera(random.Random(21))
    found: list[Judgement] = []
    for k in range(6):
        for lane in (1, 2):
            mon.reading(_camera_row("cam-2", start + 60.0 * k, lane, 0), found)
    first = _obstructions(found)[0]
    assert first.t == start + 60.0
    assert first.extra["lanes"] == [1, 2]
    expected = first.extra["expected_per_interval"]
    assert isinstance(expected, float)
    assert expected > 8.0  # both lanes' expectations


def test_one_quiet_lane_beside_a_busy_one_is_judged_alone() -> None:
    rng = random.Random(22)
    mon, start = _two_lane_camera(rng)
    found: list[Judgement] = []
    for k in range(8):
        t = start + 60.0 * k
        mon.reading(_camera_row("cam-2", t, 1, 0), found)
        mon.reading(_camera_row("cam-2", t, 2, max(1, int(_poisson(rng, 5.0)))), found)
    first = _obstructions(found)[0]
    assert "lanes" not in first.extra
    assert first.extra["lane_id"] == 1
    assert first.t >= start + 2 * 60.0  # one lane's evidence alone takes three minutes


def test_lanes_that_went_quiet_one_after_another_are_not_pooled() -> None:
    """A street emptying lets its lanes' last vehicles pass at different times; a covered
    lens blinds them from the same report on."""
    mon, start = _two_lane_camera(random.Random(23))
    found: list[Judgement] = []
    for k in range(6):
        t = start + 60.0 * k
        mon.reading(_camera_row("cam-2", t, 1, 0), found)
        mon.reading(_camera_row("cam-2", t, 2, 6 if k == 0 else 0), found)
    first = _obstructions(found)[0]
    assert "lanes" not in first.extra  # lane 1 alone, in its own time
    assert first.extra["lane_id"] == 1
