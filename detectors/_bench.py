"""Measure detector throughput: readings per second on one core.

Feeds synthetic city series (a daily cycle with noise, interleaved across many series,
as a detect worker sees them) through the default detector set, one detector per
series, and through a trivial baseline (a constant score) in the same run, so the
figures can be compared across machines.  The camera forest, which sees only camera
reports, is timed separately.  Detectors are built and warmed on the first half of the
readings; the second half is timed.  --quick runs a tenth of the readings.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable
from typing import Any

from citypulse import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--readings", type=int, default=300_000, help="readings per measurement")
    parser.add_argument("--series", type=int, default=100, help="number of interleaved series")
    parser.add_argument("--seed", type=int, default=0)


def _stream(n: int, series: int, seed: int) -> list[tuple[int, float, float]]:
    rng = random.Random(seed)
    phase = [rng.uniform(0, 86400) for _ in range(series)]
    out = []
    for i in range(n):
        s = i % series
        t = 1_700_000_000.0 + 60.0 * (i // series)
        x = 50.0 + 20.0 * math.sin(2 * math.pi * ((t + phase[s]) % 86400) / 86400.0)
        out.append((s, t, x + rng.gauss(0.0, 2.0)))
    return out


def _measure(factory: Callable[[int], Any], stream: list[tuple[int, float, float]]) -> float:
    from detectors._base import Keyed

    keyed: Keyed[int, Any] = Keyed(factory)
    update = keyed.update
    half = len(stream) // 2
    for s, t, x in stream[:half]:  # untimed: builds the detectors and warms them up
        update(s, t, x)
    timed = stream[half:]
    started = time.perf_counter()
    for s, t, x in timed:
        update(s, t, x)
    return len(timed) / (time.perf_counter() - started)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from detectors._multivariate import CameraForest
    from detectors._presets import Constant, city_scalar

    n = max(1000, args.readings // (10 if args.quick else 1))
    stream = _stream(n, args.series, args.seed)
    baseline = _measure(lambda key: Constant(0.0), stream)
    default = _measure(lambda key: city_scalar(low=-50.0, high=500.0, seed=args.seed), stream)
    cam_n = max(2000, n // 20)
    rng = random.Random(args.seed)
    cams = [
        (i % 4, 1_700_000_000.0 + 60.0 * i, (rng.gauss(30, 5), rng.gauss(55, 6), 0.15))
        for i in range(cam_n)
    ]
    forest = _measure(lambda key: CameraForest(seed=args.seed), cams)  # type: ignore[arg-type]
    result = {
        "readings": n,
        "series": args.series,
        "default_readings_per_s": round(default),
        "baseline_readings_per_s": round(baseline),
        "default_vs_baseline": round(default / baseline, 4),
        "camera_forest_readings_per_s": round(forest),
        "target_readings_per_s": 50_000,
        "quick": bool(args.quick),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"detector throughput, one core, {n} readings over {args.series} series")
    print(f"  default set (range + flatline + statistics): {default:12,.0f} readings/s")
    print(f"  trivial baseline (constant score):          {baseline:12,.0f} readings/s")
    print(f"  camera forest (HalfSpaceTrees, per report):  {forest:12,.0f} readings/s")
    verdict = "meets" if default >= 50_000 else "misses"
    print(f"  the default set {verdict} the 50,000 readings/s target")
    return 0
