"""The parking monitor: a count pinned at full is a stuck sensor; a full night is one incident."""

from __future__ import annotations

import math

from citypulse import Device, DeviceKind, IncidentType
from detectors._city import CityConfig, ParkingMonitor
from detectors._incidents import ActionKind, Finding, Judgement, Trackers
from detectors._rows import ParkingRow
from tests.detectors._cases import T0

PK = Device(id="pk-1", kind=DeviceKind.PARKING, report_interval_s=300.0)
STEP = 300.0
TOTAL = 60
_T = IncidentType


def _run(counts: list[int]) -> tuple[list[Judgement], Trackers]:
    """Feed the counts five minutes apart; return every finding and the trackers fed them."""
    mon = ParkingMonitor(PK, CityConfig())
    trackers = Trackers()
    found: list[Judgement] = []
    for i, occ in enumerate(counts):
        t = T0 + STEP * i
        out: list[Judgement] = []
        mon.reading(ParkingRow(PK.id, t, TOTAL, occ, 0, t), out)
        trackers.observe_all(PK.id, out)
        trackers.tick(t)
        found += out
    return found, trackers


def _day() -> list[int]:
    """A day of a lot filling and emptying, never full."""
    return [round(30 + 20 * math.sin(2 * math.pi * i / 288)) + i % 3 for i in range(288)]


def test_a_count_pinned_at_full_is_a_stuck_sensor_not_a_full_lot() -> None:
    found, _ = _run(_day() + [TOTAL] * 48)  # four hours at exactly 60 of 60
    stuck = [f for f in found if isinstance(f, Finding) and f.type is _T.PARKING_STUCK and f.alarm]
    assert stuck
    assert stuck[0].since == T0 + STEP * 288  # since the count stopped moving
    assert stuck[0].t - stuck[0].since >= 2 * 3600.0
    assert [
        f for f in found if isinstance(f, Finding) and f.type is _T.PARKING_FULL and f.alarm
    ] == []


def test_a_small_lot_full_overnight_is_one_parking_full_incident() -> None:
    night: list[int] = []
    for i in range(8 * 12):  # eight hours full, a car leaving now and then
        night.append(TOTAL - 1 if i % 4 == 3 else TOTAL)
    night[40:43] = [TOTAL - 2] * 3  # a quarter of an hour with two spots free
    _, trackers = _run(_day() + night)
    actions = trackers.take()
    full = [a for a in actions if a.kind is ActionKind.OPEN and a.type is _T.PARKING_FULL]
    assert len(full) == 1
    assert [a for a in actions if a.type is _T.PARKING_STUCK] == []


def _residential_day(noon_full: bool = False) -> list[int]:
    """A lot full from 22:00 to 06:00 (as residential lots are), a third full by day;
    with ``noon_full``, also full from 11:00 to 15:00."""
    counts = []
    for i in range(288):
        hour = ((T0 + STEP * i) % 86400) / 3600
        if hour >= 22 or hour < 6 or (noon_full and 11 <= hour < 15):
            counts.append(TOTAL - 1 if i % 4 == 3 else TOTAL)
        else:
            counts.append(20 + i % 3)
    return counts


def test_a_lot_full_every_night_is_not_news_but_full_at_noon_is() -> None:
    days = [_residential_day() for _ in range(4)] + [_residential_day(noon_full=True)]
    _, trackers = _run([c for day in days for c in day])
    opened = [a for a in trackers.take() if a.kind is ActionKind.OPEN and a.type is _T.PARKING_FULL]
    assert len(opened) == 1
    hour = (opened[0].episode.since % 86400) / 3600  # the full period began at 11:00
    assert 11 <= hour < 15
