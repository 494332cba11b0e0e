"""The ecology monitor: a lone jump is a spike, not air; PM2.5 drift seen through to its end."""

from __future__ import annotations

import math
import random

from citypulse import Device, DeviceKind, IncidentType
from detectors._city import CityConfig, EcologyMonitor
from detectors._incidents import Finding
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


def _alarms(out: list[Finding], itype: IncidentType) -> list[Finding]:
    return [f for f in out if f.type is itype and f.alarm]


def test_a_one_reading_jump_over_the_limit_is_a_spike_not_an_air_quality_incident() -> None:
    rng = random.Random(1)
    mon = EcologyMonitor(ECO, CityConfig())
    for i in range(3 * 72):  # three days of 20-minute readings
        out: list[Finding] = []
        mon.reading(_row(rng, i), out)
        assert not [f for f in out if f.alarm], out
    glitch = 210.0  # eightfold, and over ПДК м.р. of PM2.5 (160 µg/m³) for one reading
    found: list[Finding] = []
    mon.reading(_row(rng, 3 * 72, pm25=glitch), found)
    after: list[Finding] = []
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
    outs: list[list[Finding]] = []
    for i in range(3 * 72, 3 * 72 + 9):  # three hours of real pollution: PM2.5 and PM10 up
        t = T0 + STEP * i
        out: list[Finding] = []
        mon.reading(EcologyRow(ECO.id, t, 210.0, 280.0, 30.0, 4.0, 0.5, 40.0, t), out)
        outs.append(out)
    air = [bool(_alarms(out, _T.AIR_QUALITY_EXCEEDANCE)) for out in outs]
    # one reading is an instantaneous value, not yet a 20-minute mean over the limit
    assert air == [False] + [True] * 8
    # both PM fractions rising together is air, not a sensor glitch: no spike anomaly
    assert [f for out in outs for f in _alarms(out, _T.ANOMALY)] == []
