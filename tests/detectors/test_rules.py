"""LimitRule: a moving mean over a time window, judged against a limit."""

from __future__ import annotations

import math
import random
import tracemalloc

from detectors import LimitRule


def _reference(
    readings: list[tuple[float, float]],
    *,
    limit: float,
    averaging_s: float,
    lasts: float,
    cover: float,
) -> list[float]:
    """The rule as specified, recomputed from every reading so far at each step."""
    out, since = [], None
    for i, (t, _) in enumerate(readings):
        kept = [(u, x) for u, x in readings[: i + 1] if u > t - averaging_s]
        if not kept:
            kept = [readings[i]]
        first = kept[0][0]
        mean = sum(x for _, x in kept) / len(kept)
        if t - first < cover * averaging_s:
            since = None
            out.append(0.0)
        elif mean > limit:
            since = t if since is None else since
            out.append(1.0 if t - since >= lasts else 0.0)
        else:
            since = None
            out.append(0.0)
    return out


def test_the_moving_mean_is_the_mean_of_the_readings_in_the_window() -> None:
    rng = random.Random(4)
    t, readings = 0.0, []
    for _ in range(700):
        t += rng.choice([1.0, 30.0, 60.0, 60.0, 600.0])
        readings.append((t, rng.uniform(0, 60) + (40 if 20_000 < t < 40_000 else 0)))
    for averaging_s, cover in ((1200.0, 0.0), (7200.0, 0.75)):
        rule = LimitRule(
            limit=45.0, averaging_s=averaging_s, lasts_at_least_s=300.0, min_coverage=cover
        )
        got = [rule.update(t, x) for t, x in readings]
        want = _reference(readings, limit=45.0, averaging_s=averaging_s, lasts=300.0, cover=cover)
        assert got == want
        assert sum(got) > 0  # the raised stretch was judged
        kept = [x for u, x in readings if u > readings[-1][0] - averaging_s]
        assert math.isclose(rule.average, sum(kept) / len(kept), rel_tol=1e-9)


def test_a_daily_mean_keeps_a_day_of_readings_in_about_16_bytes_each() -> None:
    """A station reporting every minute: the daily window holds 1,440 readings.  As a
    deque of (time, value) tuples they took about 110 bytes each (and a large city's
    detect workers grew by hundreds of MiB over a day)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rule = LimitRule(limit=35.0, averaging_s=86_400.0, min_coverage=0.75)
        for i in range(5 * 1_440):  # five days: the window fills, then slides
            rule.update(60.0 * i, 10.0 + i % 7)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1_440 * 48
    last_day = [10.0 + i % 7 for i in range(4 * 1_440, 5 * 1_440)]
    assert math.isclose(rule.average, sum(last_day) / len(last_day))
