"""Measure detector throughput: readings per second on one core.

Feeds synthetic city series (a daily cycle with noise, interleaved across many series,
as a detect worker sees them) through the default detector set, one detector per
series, and through a trivial baseline (a constant score) in the same run, so the
figures can be compared across machines.  The camera forest, which sees only camera
reports, is timed separately.  Detectors are built and warmed on the first half of the
readings; the second half is timed in process CPU time, so other load on the machine
does not count against the detectors.  --quick runs a tenth of the readings.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from citypulse import Settings, non_negative_int, positive_int

HELP = "measure detector throughput"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--readings", type=positive_int, default=300_000, help="readings per measurement"
    )
    parser.add_argument(
        "--series", type=positive_int, default=20, help="number of interleaved series"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0)


def _stream(n: int, series: int, seed: int) -> list[tuple[int, float, Any]]:
    rng = random.Random(seed)
    phase = [rng.uniform(0, 86400) for _ in range(series)]
    out: list[tuple[int, float, Any]] = []
    for i in range(n):
        s = i % series
        t = 1_700_000_000.0 + 60.0 * (i // series)
        x = 50.0 + 20.0 * math.sin(2 * math.pi * ((t + phase[s]) % 86400) / 86400.0)
        out.append((s, t, x + rng.gauss(0.0, 2.0)))
    return out


def _measure(
    factory: Callable[[int], Any], stream: list[tuple[int, float, Any]], chunks: int = 5
) -> tuple[float, float]:
    """Readings per CPU second: (best chunk, median chunk) over the warm second half."""
    from detectors._base import Keyed

    keyed: Keyed[int, Any] = Keyed(factory)
    update = keyed.update
    half = len(stream) // 2
    for s, t, x in stream[:half]:  # untimed: builds the detectors and warms them up
        update(s, t, x)
    timed = stream[half:]
    size = max(1, len(timed) // chunks)
    rates = []
    # The synthetic stream itself is hundreds of thousands of tuples; without freezing,
    # the cyclic collector rescans it and the bench measures that instead of detectors.
    gc.collect()
    gc.freeze()
    try:
        for c in range(0, len(timed), size):
            part = timed[c : c + size]
            started = time.process_time()
            for s, t, x in part:
                update(s, t, x)
            rates.append(len(part) / max(time.process_time() - started, 1e-9))
    finally:
        gc.unfreeze()
    return max(rates), statistics.median(rates)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from detectors._multivariate import CameraForest
    from detectors._presets import Constant, city_scalar

    n = max(1000, args.readings // (10 if args.quick else 1))
    series = max(1, min(args.series, n // 3000))  # a day and more per series: all warm
    stream = _stream(n, series, args.seed)
    baseline, baseline_median = _measure(lambda key: Constant(0.0), stream)
    default, default_median = _measure(
        lambda key: city_scalar(low=-50.0, high=500.0, seed=args.seed), stream
    )
    cam_n = max(2000, n // 20)
    rng = random.Random(args.seed)
    cams: list[tuple[int, float, Any]] = [
        (i % 4, 1_700_000_000.0 + 60.0 * i, (rng.gauss(30, 5), rng.gauss(55, 6), 0.15))
        for i in range(cam_n)
    ]
    forest, forest_median = _measure(lambda key: CameraForest(seed=args.seed), cams)
    result = {
        "readings": n,
        "series": series,
        "default_readings_per_s": round(default),
        "default_readings_per_s_median": round(default_median),
        "baseline_readings_per_s": round(baseline),
        "baseline_readings_per_s_median": round(baseline_median),
        "default_vs_baseline": round(default / baseline, 4),
        "camera_forest_readings_per_s": round(forest),
        "camera_forest_readings_per_s_median": round(forest_median),
        "target_readings_per_s": 100_000,
        "quick": bool(args.quick),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"detector throughput, one core, {n} readings over {series} series")
    print("readings per CPU second, best (median) of 5 timed chunks:")
    print(
        f"  default set (range + flatline + statistics): {default:10,.0f} ({default_median:,.0f})"
    )
    print(
        f"  trivial baseline (constant score):          {baseline:10,.0f} ({baseline_median:,.0f})"
    )
    print(f"  camera forest (HalfSpaceTrees, per report):  {forest:10,.0f} ({forest_median:,.0f})")
    verdict = "meets" if default >= 100_000 else "misses"
    print(f"  the default set {verdict} the 100,000 readings/s target")
    return 0
