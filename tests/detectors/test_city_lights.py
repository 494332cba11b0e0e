"""The traffic-light monitor: a phase's duration never spans a gap in what was heard."""

from __future__ import annotations

from citypulse import Device, DeviceKind, IncidentType
from detectors._city import CityConfig, TrafficLightMonitor
from detectors._incidents import Finding, Judgement
from detectors._rows import TrafficLightRow
from tests.detectors._cases import T0

TL = Device(id="tl-1", kind=DeviceKind.TRAFFIC_LIGHT, report_interval_s=60.0)


def _phase(mon: TrafficLightMonitor, t: float, phase: str) -> list[Finding]:
    out: list[Judgement] = []
    mon.reading(TrafficLightRow(TL.id, T0 + t, phase, None, False, "fixed_time", T0 + t), out)
    return [
        f for f in out if isinstance(f, Finding) and f.type is IncidentType.STUCK_PHASE and f.alarm
    ]


def _cycle(mon: TrafficLightMonitor, start: float, end: float) -> list[Finding]:
    """A healthy 60-second cycle: red 30 s, green 30 s."""
    found: list[Finding] = []
    t = start
    while t < end:
        found += _phase(mon, t, "red" if (t - start) % 60 < 30 else "green")
        t += 30.0
    return found


def test_a_power_loss_is_not_a_long_phase() -> None:
    mon = TrafficLightMonitor(TL, CityConfig())
    assert _cycle(mon, 0.0, 600.0) == []
    # the last word before the loss was red; the first after it, 40 minutes later, too
    assert _phase(mon, 570.0, "red") == []
    assert _cycle(mon, 570.0 + 2400.0, 570.0 + 3000.0) == []


def test_dead_lettered_readings_are_a_gap_in_the_phases() -> None:
    mon = TrafficLightMonitor(TL, CityConfig())
    assert _cycle(mon, 0.0, 600.0) == []
    t = 600.0
    while t < 600.0 + 2400.0:  # heartbeats keep coming, but none can be read
        mon.dead_letter(T0 + t, "malformed", "not JSON", [])
        t += 60.0
    assert _phase(mon, t, "green") == []
    assert _cycle(mon, t + 30.0, t + 600.0) == []


def test_a_phase_heard_throughout_is_still_stuck() -> None:
    mon = TrafficLightMonitor(TL, CityConfig())
    _cycle(mon, 0.0, 600.0)
    found = [f for k in range(12) for f in _phase(mon, 600.0 + 60.0 * k, "red")]
    assert found
    assert found[-1].value == 660.0
    assert found[-1].since == T0 + 600.0


def _silent(mon: TrafficLightMonitor, now: float) -> list[Finding]:
    out: list[Judgement] = []
    mon.tick(T0 + now, out)
    return [
        f
        for f in out
        if isinstance(f, Finding) and f.type is IncidentType.DEVICE_SILENT and f.alarm
    ]


def test_a_controller_reporting_every_second_is_not_silent_after_a_few_seconds() -> None:
    # The large city's controllers report every second: three intervals is less than
    # publish to commit and a poll can take under load.  Silence has a floor of 30 s.
    fast = Device(id="tl-fast", kind=DeviceKind.TRAFFIC_LIGHT, report_interval_s=1.0)
    mon = TrafficLightMonitor(fast, CityConfig())
    out: list[Judgement] = []
    for s in range(60):
        mon.reading(TrafficLightRow(fast.id, T0 + s, "red", None, False, "fixed_time", T0 + s), out)
    assert _silent(mon, 59.0 + 10.0) == []
    assert _silent(mon, 59.0 + 29.0) == []
    found = _silent(mon, 59.0 + 31.0)
    assert found
    assert found[0].limit == 30.0
    # a slow device keeps k intervals: 3 minutes for a 60-second heartbeat
    slow = TrafficLightMonitor(TL, CityConfig())
    slow.reading(TrafficLightRow(TL.id, T0, "red", None, False, "fixed_time", T0), out)
    assert _silent(slow, 170.0) == []
    assert _silent(slow, 181.0)
