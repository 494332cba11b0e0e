"""Every detector with a stream that exercises it: the conformance suite's parameters."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import detectors as d
from detectors._city_cameras import Collapse, CountSpike, Jam, Repeats
from detectors._city_ecology import LogSpike, PairDrift
from detectors._learned import SeasonalStream, learned_stream

Stream = list[tuple[float, Any]]
T0 = 1_700_000_000.0  # a Tuesday; whole-hour aligned streams start here


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    make: Callable[[int], d.Detector[Any]]
    stream: Callable[[int, int], Stream]
    numeric: bool = False  # takes a float: Hypothesis feeds it arbitrary floats


def views_of(stream: SeasonalStream) -> tuple[float, float, int]:
    """What the city reads of a learnt normal (``learned_views``), to compare two streams."""
    return (stream.last_z, stream.last_expected, stream.shifted)


def _daily(seed: int, n: int) -> Stream:
    """A noisy daily cycle at 5-minute steps with a spike, a level shift and a frozen spell."""
    rng = random.Random(seed)
    out: Stream = []
    for i in range(n):
        t = T0 + 300.0 * i
        x = 50 + 20 * math.sin(2 * math.pi * (t % 86400) / 86400) + rng.gauss(0, 2)
        if i == n * 2 // 3:
            x += 200
        if i > n * 3 // 4:
            x += 60
        out.append((t, x))
    return out


def _camera(seed: int, n: int) -> Stream:
    rng = random.Random(seed)
    out: Stream = []
    for i in range(n):
        t = T0 + 60.0 * i
        flow = max(1.0, rng.gauss(30, 5))
        speed = max(5.0, rng.gauss(55, 6))
        occ = min(0.9, max(0.02, rng.gauss(0.15, 0.03)))
        if n * 4 // 5 < i < n * 4 // 5 + 40:
            speed, occ = 8.0, 0.8
        if i == n // 2:
            speed = 0.0  # with vehicles counted but no speed: fine; flow 0 with speed is not
            flow = 0.0
            speed = 30.0
        out.append((t, (flow, speed, occ)))
    return out


def _phases(seed: int, n: int) -> Stream:
    rng = random.Random(seed)
    cycle = ["green", "yellow", "red", "red_yellow"]
    out: Stream = []
    t = T0
    for i in range(n):
        t += rng.uniform(2, 40)
        phase = cycle[i % 4]
        if n // 2 < i < n // 2 + 30:
            phase = "red"  # stuck
        if i > n * 4 // 5:
            phase = "flashing_yellow"
        out.append((t, phase))
    return out


def _lamp(seed: int, n: int) -> Stream:
    rng = random.Random(seed)
    return [(T0 + 30.0 * i, rng.random() < 0.05 or n // 2 < i < n // 2 + 5) for i in range(n)]


def _parking(seed: int, n: int) -> Stream:
    rng = random.Random(seed)
    out: Stream = []
    for i in range(n):
        t = T0 + 300.0 * i
        occ = float(rng.randint(20, 90))
        if i > n // 2:
            occ = 100.0
        if i == n // 3:
            occ = 130.0  # more than there are places
        out.append((t, (occ, 100.0)))
    return out


def _parking_counts(seed: int, n: int) -> Stream:
    return [(t, x[0]) for t, x in _parking(seed, n)]


def _air(seed: int, n: int) -> Stream:
    """PM2.5 in µg/m³ every minute, over the 160 µg/m³ single limit for a while."""
    rng = random.Random(seed)
    out: Stream = []
    for i in range(n):
        x = rng.uniform(5, 40)
        if n // 2 < i < n // 2 + 60:
            x = rng.uniform(180, 260)
        if i == n // 4:
            x *= 1000.0  # a unit mistake
        out.append((T0 + 60.0 * i, x))
    return out


def _arrivals(seed: int, n: int) -> Stream:
    rng = random.Random(seed)
    out: Stream = []
    t = T0
    for i in range(n):
        t += 60.0 if i != n // 2 else 3600.0
        t += rng.uniform(-5, 5)
        out.append((t, 1.0))
    return out


def _counts(seed: int, n: int) -> Stream:
    """Vehicle counts per minute around 12, a spike, then a camera blinded (zeros)."""
    rng = random.Random(seed)
    out: Stream = []
    for i in range(n):
        x = float(max(0, round(rng.gauss(12, 3.5))))
        if i == n // 3:
            x = 110.0
        if n * 2 // 3 < i < n * 2 // 3 + 10:
            x = 0.0
        out.append((T0 + 60.0 * i, x))
    return out


def _reports(seed: int, n: int) -> Stream:
    """(count, speed, occupancy, heavy share) reports, frozen for a while."""
    rng = random.Random(seed)
    out: Stream = []
    frozen: tuple[float, ...] | None = None
    for i in range(n):
        x: tuple[float, ...] = (
            float(rng.randint(5, 20)),
            round(rng.gauss(50, 5), 1),
            round(rng.uniform(0.1, 0.2), 3),
            0.1,
        )
        if n // 2 < i < n // 2 + 20:
            frozen = frozen or x
            x = frozen
        out.append((T0 + 60.0 * i, x))
    return out


def _pm_pair(seed: int, n: int) -> Stream:
    """(PM2.5, PM10) every 20 minutes; PM2.5 drifts upwards in the last third."""
    rng = random.Random(seed)
    out: Stream = []
    for i in range(n):
        t = T0 + 1200.0 * i
        pm25 = 12 + 8 * math.sin(2 * math.pi * (t % 86400) / 86400) + rng.gauss(0, 0.8)
        pm10 = pm25 * 1.7 + 3 + rng.gauss(0, 1.2)
        if i > n * 2 // 3:
            pm25 += 0.5 * (i - n * 2 // 3)
        out.append((t, (pm25, pm10)))
    return out


def _seasonal(seed: int) -> d.Detector[float]:
    return d.SeasonalBaseline(period_s=86400.0, bin_s=3600.0, min_count=4)


CASES: tuple[Case, ...] = (
    Case("range", lambda s: d.Range(low=0.0, high=150.0), _daily, numeric=True),
    Case("unit_mistake", lambda s: d.UnitMistake(), _air, numeric=True),
    Case("camera_consistency", lambda s: d.CameraConsistency(), _camera),
    Case("parking_consistency", lambda s: d.ParkingConsistency(), _parking),
    Case("limit_rule", lambda s: d.LimitRule(limit=80.0, averaging_s=3600.0), _daily, True),
    Case("sanpin_pm25", lambda s: d.air_quality_rule("pm25", lasts_at_least_s=600.0), _air, True),
    Case("deviation", lambda s: d.Deviation(), _daily, numeric=True),
    Case("seasonal", _seasonal, _daily, numeric=True),
    Case("cusum", lambda s: d.Cusum(), _daily, numeric=True),
    Case(
        "seasonal_novelty",
        lambda s: d.SeasonalNovelty(d.Deviation(), memory=32, min_count=4, context_half=3.0),
        _daily,
        numeric=True,
    ),
    Case("novelty", lambda s: d.Novelty(), _daily, numeric=True),
    Case(
        "novelty_small",
        lambda s: d.Novelty(memory=50, context_memory=8, min_count=4, bin_s=3600.0, ramp=0.0),
        _daily,
        numeric=True,
    ),
    Case("normalised", lambda s: d.Normalised(d.Deviation(), window=200, short=1), _daily, True),
    Case("rarity", lambda s: d.Rarity(d.Novelty(), memory=300, min_count=20), _daily, True),
    Case("peaks", lambda s: d.Peaks(d.Deviation(), window=50), _daily, numeric=True),
    Case("refractory", lambda s: d.Refractory(d.Deviation(), level=0.5, quiet=20), _daily, True),
    Case("default_univariate", d.default_univariate, _daily, numeric=True),
    Case("seasonal_stream", lambda s: SeasonalStream(novelty=0.0, warm_up=20), _daily, True),
    Case("learned_stream", lambda s: learned_stream(), _daily, numeric=True),
    Case("camera_forest", lambda s: d.CameraForest(seed=s, window_size=50), _camera),
    Case(
        "camera_isolation_forest",
        lambda s: d.CameraIsolationForest(
            seed=s, n_estimators=20, window=200, refit_every=100, warm_up=100
        ),
        _camera,
    ),
    Case("silence", lambda s: d.Silence(expected_interval_s=60.0), _arrivals),
    Case("flatline", lambda s: d.Flatline(min_duration_s=1800.0), _parking_counts, True),
    Case("stuck_phase", lambda s: d.StuckPhase(max_phase_s=120.0), _phases),
    Case("signal_dark", lambda s: d.SignalDark(grace_s=30.0), _phases),
    Case("lamp_fault", lambda s: d.LampFault(min_reports=3), _lamp),
    Case(
        "congestion",
        lambda s: d.Congestion(lasts_at_least_s=300.0),
        lambda s, n: [(t, (x[1], x[2])) for t, x in _camera(s, n)],
    ),
    Case("parking_stuck", lambda s: d.ParkingStuck(min_duration_s=3600.0), _parking_counts, True),
    Case("full_for_long", lambda s: d.FullForLong(lasts_at_least_s=3600.0), _parking),
    Case("count_spike", lambda s: CountSpike(), _counts, numeric=True),
    Case("collapse", lambda s: Collapse(), _counts, numeric=True),
    Case("log_spike", lambda s: LogSpike(), _air, numeric=True),
    Case("repeats", lambda s: Repeats(n=3), _reports),
    Case(
        "jam",
        lambda s: Jam(),
        lambda s, n: [(t, (x[1], x[2])) for t, x in _camera(s, n)],
    ),
    Case("pair_drift", lambda s: PairDrift(), _pm_pair),
)
