"""SeasonalCounts: a Poisson CUSUM against a learnt weekly normal; poisson_quantile."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from detectors import DetectorConfigError, SeasonalCounts, poisson_quantile, weekly_shape

HOUR = 3600.0
WEEK_H = 168
#: Monday 2026-03-02 00:00 UTC
T0 = 1772409600.0


def _rate(i: int, per_day: float) -> float:
    hour = i % 24
    day = 0.3 + 1.4 * max(0.0, math.sin(math.pi * (hour - 6) / 16)) if 6 <= hour <= 22 else 0.3
    return per_day / 24 * day * (0.7 if (i // 24) % 7 >= 5 else 1.1)


def _feed(d: SeasonalCounts, counts: list[int], start: int = 0) -> list[float]:
    return [d.update(T0 + (start + i) * HOUR, float(x)) for i, x in enumerate(counts)]


def _stream(seed: int, hours: int, per_day: float, surge_at: int | None = None) -> list[int]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(hours):
        mu = _rate(i, per_day)
        if surge_at is not None and surge_at <= i < surge_at + 24:
            mu *= 2.0
        out.append(int(rng.poisson(mu)))
    return out


def test_nothing_before_two_weeks_of_history() -> None:
    d = SeasonalCounts()
    scores = _feed(d, [0] * (2 * WEEK_H - 1) + [500])
    assert max(scores) == 0.0
    assert d.warm  # from the next bin on
    assert d.update(T0 + 2 * WEEK_H * HOUR, 500.0) >= 0.5  # warm now: 500 where 0 is normal
    assert d.alarmed


def test_the_learnt_normal_follows_the_hour_of_week() -> None:
    d = SeasonalCounts()
    _feed(d, _stream(1, 6 * WEEK_H, per_day=240.0))
    for i in (3, 12, 24 * 5 + 12):  # night, weekday noon, Saturday noon
        truth = _rate(i, 240.0)
        assert abs(d.expected(T0 + i * HOUR) - truth) < 0.25 * truth + 0.5


def test_a_doubled_rate_alarms_and_the_alarm_ends_once_normal() -> None:
    surge = 5 * WEEK_H + 2 * 24 + 9
    d = SeasonalCounts()
    scores = _feed(d, _stream(2, 7 * WEEK_H, per_day=200.0, surge_at=surge))
    alarms = [i for i, s in enumerate(scores) if s >= 0.5]
    assert alarms
    assert surge <= alarms[0] <= surge + 6
    assert alarms[-1] < surge + 24 + 48
    assert d.run is None  # back to normal: the statistic is 0 again


def test_a_steady_history_raises_no_alarm() -> None:
    for seed in range(3):
        d = SeasonalCounts()
        assert max(_feed(d, _stream(10 + seed, 8 * WEEK_H, per_day=100.0))) < 0.5


def test_the_run_starts_where_the_statistic_left_zero() -> None:
    d = SeasonalCounts()
    _feed(d, [2] * (3 * WEEK_H))
    assert d.statistic == 0.0
    _feed(d, [2, 9, 9], start=3 * WEEK_H)
    run = d.run
    assert run is not None
    start, count, expected = run
    assert start == T0 + (3 * WEEK_H + 1) * HOUR
    assert count == 18.0
    assert expected == pytest.approx(4.0, rel=0.05)


def test_state_round_trips_through_json_values_and_pickle() -> None:
    counts = _stream(3, 4 * WEEK_H, per_day=50.0, surge_at=3 * WEEK_H + 30)
    half = len(counts) // 2
    a = SeasonalCounts()
    _feed(a, counts[:half])
    b = SeasonalCounts()
    b.load_state(a.to_state())
    c = pickle.loads(pickle.dumps(a))
    rest = counts[half:]
    expect = _feed(a, rest, start=half)
    assert _feed(b, rest, start=half) == pytest.approx(expect, abs=1e-6)
    assert _feed(c, rest, start=half) == expect


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(DetectorConfigError):
        SeasonalCounts(ratio=1.0)
    with pytest.raises(DetectorConfigError):
        SeasonalCounts(bin_s=7000.0)


@pytest.mark.parametrize("mu", [0.3, 2.0, 9.5, 40.0, 250.0, 2500.0])
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_poisson_quantile_is_the_smallest_count_reaching_q(mu: float, q: float) -> None:
    n = poisson_quantile(mu, q)
    if mu > 1000:
        # normal approximation: within one count of the exact quantile
        assert abs(n - (mu + {0.1: -1.2816, 0.5: 0.0, 0.9: 1.2816}[q] * math.sqrt(mu))) <= 1.5
        return

    def cdf(k: int) -> float:
        return sum(math.exp(-mu + i * math.log(mu) - math.lgamma(i + 1)) for i in range(k + 1))

    assert cdf(n) >= q
    assert n == 0 or cdf(n - 1) < q


def test_weekly_shape_recovers_a_time_of_day_times_weekday_profile() -> None:
    hours = [0.5 + (h % 24) / 24 for h in range(WEEK_H)]
    days = [1.2 if d < 5 else 0.5 for d in range(7)]
    means = [3.0 * hours[b] * days[b // 24] for b in range(WEEK_H)]
    shape = weekly_shape(means, 24)
    assert sum(shape) / len(shape) == pytest.approx(1.0)
    mean = sum(means) / len(means)
    assert shape == pytest.approx([m / mean for m in means])
    assert weekly_shape([0.0] * WEEK_H, 24) == [1.0] * WEEK_H
