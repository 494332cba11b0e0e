"""The ecology monitor: a lone jump is a spike, not air; PM2.5 drift seen through to its end."""

from __future__ import annotations

import math
import random

from citypulse import Device, DeviceKind, IncidentType
from detectors._city import CityConfig, EcologyMonitor
from detectors._city_ecology import PairDrift
from detectors._incidents import Finding, Judgement
from detectors._rows import EcologyRow
from tests.detectors._cases import T0

ECO = Device(id="eco-1", kind=DeviceKind.ECOLOGY, report_interval_s=1200.0)
STEP = 1200.0
_T = IncidentType


def _row(rng: random.Random, i: int, *, pm25: float | None = None) -> EcologyRow:
    """A plausible reading: PM2.5 around 20-30 µg/m³, PM10 following it."""
    t = T0 + STEP * i
    base = 20.0 + 8.0 * math.sin(2 * math.pi * (t % 86400) / 86400) + rng.gauss(0.0, 0.8)
    pm10 = base * 1.7 + 3.0 + rng.gauss(0.0, 1.2)
    return EcologyRow(ECO.id, t, base if pm25 is None else pm25, pm10, 30.0, 4.0, 0.5, 40.0, t)


def _alarms(out: list[Judgement], itype: IncidentType) -> list[Finding]:
    return [f for f in out if isinstance(f, Finding) and f.type is itype and f.alarm]


def test_a_one_reading_jump_over_the_limit_is_a_spike_not_an_air_quality_incident() -> None:
    rng = random.Random(1)
    mon = EcologyMonitor(ECO, CityConfig())
    for i in range(3 * 72):  # three days of 20-minute readings
        out: list[Judgement] = []
        mon.reading(_row(rng, i), out)
        assert not [f for f in out if f.alarm], out
    glitch = 210.0  # eightfold, and over ПДК м.р. of PM2.5 (160 µg/m³) for one reading
    found: list[Judgement] = []
    mon.reading(_row(rng, 3 * 72, pm25=glitch), found)
    after: list[Judgement] = []
    for i in range(3 * 72 + 1, 4 * 72):
        mon.reading(_row(rng, i), after)
    spikes = _alarms(found, _T.ANOMALY)
    assert [(f.detector, f.metric, f.value) for f in spikes] == [("LogSpike", "pm25", glitch)]
    assert _alarms(found + after, _T.AIR_QUALITY_EXCEEDANCE) == []
    assert _alarms(after, _T.ANOMALY) == []


def test_an_exceedance_that_persists_is_reported_once_it_spans_the_20_minute_mean() -> None:
    rng = random.Random(2)
    mon = EcologyMonitor(ECO, CityConfig())
    for i in range(3 * 72):
        mon.reading(_row(rng, i), [])
    outs: list[list[Judgement]] = []
    for i in range(3 * 72, 3 * 72 + 9):  # three hours of real pollution: PM2.5 and PM10 up
        t = T0 + STEP * i
        out: list[Judgement] = []
        mon.reading(EcologyRow(ECO.id, t, 210.0, 280.0, 30.0, 4.0, 0.5, 40.0, t), out)
        outs.append(out)
    air = [bool(_alarms(out, _T.AIR_QUALITY_EXCEEDANCE)) for out in outs]
    # one reading is an instantaneous value, not yet a 20-minute mean over the limit
    assert air == [False] + [True] * 8
    # both PM fractions rising together is air, not a sensor glitch: no spike anomaly
    assert [f for out in outs for f in _alarms(out, _T.ANOMALY)] == []


def test_a_pm25_jump_that_pm10_still_holds_is_air_even_if_pm10_barely_moved() -> None:
    rng = random.Random(9)
    mon = EcologyMonitor(ECO, CityConfig())
    for i in range(3 * 72):
        mon.reading(_row(rng, i), [])
    t = T0 + STEP * 3 * 72
    out: list[Judgement] = []
    # fine particles arrive: PM2.5 jumps, PM10 (which contains it) rises less but holds it
    mon.reading(EcologyRow(ECO.id, t, 70.0, 75.0, 30.0, 4.0, 0.5, 40.0, t), out)
    assert _alarms(out, _T.ANOMALY) == []


def _pm_pair(rng: random.Random, i: int, drift: float) -> tuple[float, tuple[float, float]]:
    t = T0 + STEP * i
    pm10 = 45.0 + 15.0 * math.sin(2 * math.pi * (t % 86400) / 86400) + rng.gauss(0.0, 6.0)
    pm25 = (pm10 - 3.0) / 1.7 + rng.gauss(0.0, 0.8) + drift
    return t, (pm25, pm10)


def test_pair_drift_stays_alarmed_through_a_long_drift_and_not_after_its_snap_back() -> None:
    rng = random.Random(3)
    det = PairDrift()
    warm, drifting, after = 3 * 72, 120, 3 * 72  # 40 h of drift at 1.5 µg/m³ per hour
    for i in range(warm):
        t, x = _pm_pair(rng, i, 0.0)
        assert det.update(t, x) == 0.0
    during = []
    for k in range(drifting):
        t, x = _pm_pair(rng, warm + k, 1.5 * k * STEP / 3600.0)
        during.append(det.update(t, x))
    first = during.index(1.0)
    assert first < 24  # found within 8 hours
    assert during[first:] == [1.0] * (drifting - first)  # never blind while it lasts
    later = []
    for k in range(after):  # the sensor is serviced: PM2.5 back on PM10's relation
        t, x = _pm_pair(rng, warm + drifting + k, 0.0)
        later.append(det.update(t, x))
    cleared = later.index(0.0)
    assert cleared < 18  # the alarm ends within 6 hours of the snap-back
    assert later[cleared:] == [0.0] * (after - cleared)  # and the snap-back raises nothing


def test_pair_drift_adopts_a_relation_that_changed_for_good_without_going_blind() -> None:
    rng = random.Random(4)
    det = PairDrift()
    for i in range(3 * 72):
        det.update(*_pm_pair(rng, i, 0.0))
    scores = [det.update(*_pm_pair(rng, 3 * 72 + k, 12.0)) for k in range(6 * 72)]
    assert 1.0 in scores[:6]  # the step is seen within two hours
    ended = scores.index(0.0, 6)
    assert 72 <= ended < 4 * 72  # alarmed a day at least, then the new relation is learnt
    assert scores[ended:] == [0.0] * (len(scores) - ended)
