"""Measure detector throughput: readings per second on one core.

The figure the target applies to is the *city set*: every monitor ``citypulse detect``
runs, with its incident trackers and clock ticks, through the same
:class:`~detectors._worker.Engine` as the live worker and a replay, over the preset
city as the simulator makes it (traffic lights' phase changes, cameras' lane reports,
parking counts, ecology, statuses and dead letters, with its random faults), decoded by
ingest's decoder.  The first --city-hours are the warm-up; the next --city-hours are
timed, an hour of reading time per call, as a replay feeds it.

Beside it, synthetic series (a daily cycle with noise, interleaved across many series)
through the per-series default set, one detector per series, and through a trivial
baseline (a constant score) in the same run, so the figures can be compared across
machines; and the camera forest, which sees only camera reports.  Detectors are built
and warmed on the first half of the readings; the second half is timed.  Everything is
timed in process CPU time, so other load on the machine does not count against the
detectors.  --quick runs a tenth of the readings and a quarter of the city's hours.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Final

from citypulse import Settings, non_negative_int, positive_int
from lab._say import say

HELP = "measure detector throughput"
_TARGET: Final = 100_000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--readings", type=positive_int, default=300_000, help="readings per measurement"
    )
    parser.add_argument(
        "--series", type=positive_int, default=20, help="number of interleaved series"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument(
        "--city-hours",
        type=positive_int,
        default=24,
        help="hours of the preset city to warm up on, then as many to time (24)",
    )


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


_BY_TIME: Final = attrgetter("time")

#: The city's timed stretch starts on a Monday at midnight in Moscow: a whole day of
#: traffic, quiet night and both rush hours, after as long a warm-up.
_CITY_START: Final = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CityRun:
    """The city set's figures: readings the monitors judged and the CPU they took."""

    devices: int
    events: int  # readings, statuses and dead letters fed in the timed stretch
    readings: int
    cpu_s: float
    hourly: tuple[float, ...]  # readings per CPU second, per hour of reading time

    @property
    def rate(self) -> float:
        return self.readings / max(self.cpu_s, 1e-9)


def city_events(hours: float, *, seed: int, warmup_hours: float) -> tuple[list[Any], Any]:
    """The preset city's events over ``warmup_hours`` then ``hours`` from
    :data:`_CITY_START` (less the warm-up), as the detect worker reads them back from
    the database: every message decoded by ingest's decoder, readings as
    :data:`~detectors._rows.READING_ROWS`, statuses and dead letters, merged by time as
    :func:`~detectors._worker.events_from_rows` merges a replay's.  Returns the events
    and the simulation (its devices, its faults)."""
    from citypulse import READING_TYPES
    from detectors._rows import READING_ROWS, REPLAY, DeadLetterRow, StatusRow
    from detectors._worker import events_from_rows
    from ingest import Decoder
    from simulator import Simulation, preset_city, random_faults

    city = preset_city()
    lead = _CITY_START - timedelta(hours=warmup_hours)
    end = _CITY_START + timedelta(hours=hours)
    faults = random_faults(city, start=lead, end=end, rates=12.0, seed=seed)
    sim = Simulation(city, start=lead, end=end, seed=seed, faults=faults)
    # where each detector row's field sits in ingest's row (the reading record's order)
    picks = {}
    for kind, record in READING_ROWS.items():
        names = [f.name for f in fields(READING_TYPES[kind])]
        picks[kind] = (record._make, [names.index(f) for f in record._fields[:-1]])
    by_record: dict[type, list[Any]] = {q.record: [] for q in REPLAY}
    statuses, dead = by_record[StatusRow], by_record[DeadLetterRow]
    decoder = Decoder(retention=timedelta(days=3650))
    for m in sim.messages():
        decoded = decoder.decode(m.topic, m.payload, datetime.fromtimestamp(m.t, UTC))
        info = decoded.topic
        if info is None:
            continue  # no device to blame: the worker never reads these
        if decoded.rows:
            make, index = picks[info.kind]
            out = by_record[READING_ROWS[info.kind]]
            for row in decoded.rows:
                values = [row[i] for i in index]
                values[1] = values[1].timestamp()
                values.append(m.t)
                out.append(make(values))
        elif decoded.status is not None:
            st = decoded.status
            statuses.append(StatusRow(st.device_id, st.time.timestamp(), st.online, st.reason, m.t))
        for rejection in decoded.rejections:
            dead.append(
                DeadLetterRow(
                    info.device_id, m.t, len(dead) + 1, rejection.reason, rejection.detail, m.t
                )
            )
    for rows in by_record.values():  # each source's rows in time order, as REPLAY selects
        rows.sort(key=_BY_TIME)
    return events_from_rows({q: by_record[q.record] for q in REPLAY}), sim


def measure_city(hours: float, *, seed: int, warmup_hours: float | None = None) -> CityRun:
    """The city set over the preset city (see the module docstring): warmed up on
    ``warmup_hours`` (default as many as timed), then ``hours`` timed in CPU time."""
    from detectors._city import CityConfig
    from detectors._worker import Engine, PartitionState

    warmup = hours if warmup_hours is None else warmup_hours
    events, sim = city_events(hours, seed=seed, warmup_hours=warmup)
    engine = Engine(CityConfig(seed=seed), {d.id: d for d in sim.devices})
    lead = (_CITY_START - timedelta(hours=warmup)).timestamp()
    split = _CITY_START.timestamp()
    state = PartitionState(0, lead)
    hourly: list[float] = []
    readings = fed = 0
    cpu = 0.0
    i, t0 = 0, lead
    end = split + hours * 3600.0
    gc.collect()
    gc.freeze()  # the events are hundreds of thousands of tuples (see _measure)
    try:
        while t0 < end:
            t1 = t0 + 3600.0
            j = bisect.bisect_left(events, t1, lo=i, key=_BY_TIME)
            chunk = events[i:j]
            i = j
            before = state.readings
            started = time.process_time()
            # as a replay: the data's clock, which stops at the last reading
            engine.feed(state, chunk, min(t1, chunk[-1].time) if chunk else None)
            state.trackers.take()
            state.trackers.saved()
            took = time.process_time() - started
            if t0 >= split:
                n = state.readings - before
                readings += n
                fed += len(chunk)
                cpu += took
                hourly.append(n / max(took, 1e-9))
            t0 = t1
    finally:
        gc.unfreeze()
    return CityRun(len(sim.devices), fed, readings, cpu, tuple(hourly))


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
    hours = max(1, args.city_hours // (4 if args.quick else 1))
    say(f"the city set: simulating {2 * hours} h of the preset city, timing the last {hours} h ...")
    city = measure_city(hours, seed=args.seed)
    city_median = statistics.median(city.hourly) if city.hourly else 0.0
    result = {
        "readings": n,
        "series": series,
        "city_readings_per_s": round(city.rate),
        "city_readings_per_s_median_hour": round(city_median),
        "city_readings": city.readings,
        "city_events": city.events,
        "city_devices": city.devices,
        "city_hours": hours,
        "city_vs_baseline": round(city.rate / baseline, 4),
        "default_readings_per_s": round(default),
        "default_readings_per_s_median": round(default_median),
        "baseline_readings_per_s": round(baseline),
        "baseline_readings_per_s_median": round(baseline_median),
        "default_vs_baseline": round(default / baseline, 4),
        "camera_forest_readings_per_s": round(forest),
        "camera_forest_readings_per_s_median": round(forest_median),
        "target_readings_per_s": _TARGET,
        "quick": bool(args.quick),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("detector throughput, one core, in readings per CPU second")
    print(
        f"  city set, {city.devices} devices over {hours} h ({city.readings:,} readings, "
        f"{city.events - city.readings:,} statuses and dead letters):"
    )
    print(f"    {city.rate:10,.0f} over the whole stretch (median hour {city_median:,.0f})")
    print(f"  {n} synthetic readings over {series} series, best (median) of 5 timed chunks:")
    print(
        f"    per-series default (range + flatline + learned stream): "
        f"{default:10,.0f} ({default_median:,.0f})"
    )
    print(f"    trivial baseline (constant score):  {baseline:10,.0f} ({baseline_median:,.0f})")
    print(f"    camera forest (HalfSpaceTrees, per report): {forest:10,.0f} ({forest_median:,.0f})")
    verdict = "meets" if city.rate >= _TARGET else "misses"
    print(f"  the city set {verdict} the {_TARGET:,} readings/s target")
    return 0
