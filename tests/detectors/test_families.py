"""Behaviour of each detector family on small, hand-made streams."""

from __future__ import annotations

import functools
import math
import pickle
import random

import pytest

import detectors as d
from tests.detectors._cases import T0

MONDAY = 1_699_833_600.0  # 2023-11-13 00:00 UTC, a Monday


def test_sanpin_table_matches_the_issue_and_converts_units() -> None:
    table = d.SANPIN_1_2_3685_21
    assert {k: (v.max_single, v.daily) for k, v in table.items()} == {
        "pm25": (0.16, 0.035),
        "pm10": (0.3, 0.06),
        "no2": (0.2, 0.1),
        "so2": (0.5, 0.05),
        "co": (5.0, 3.0),
        "o3": (0.16, 0.1),
    }
    assert table["co"].unit_factor == 1.0  # CO readings are already mg/m³
    assert table["no2"].unit_factor == 1000.0  # the rest arrive in µg/m³


def test_max_single_limit_needs_the_20_minute_mean_and_the_duration() -> None:
    rule = d.air_quality_rule("no2", lasts_at_least_s=600.0)
    scores = [rule.update(T0 + 60.0 * i, 150.0) for i in range(30)]
    assert max(scores) == 0.0  # below 200 µg/m³
    # one minute at 900 µg/m³ lifts the 20-minute mean above 200, but not for 10 minutes
    assert rule.update(T0 + 60.0 * 30, 900.0) == 0.0
    rule2 = d.air_quality_rule("no2", lasts_at_least_s=600.0)
    fired = [rule2.update(T0 + 60.0 * i, 260.0) for i in range(15)]
    assert fired[:10] == [0.0] * 10
    assert fired[10:] == [1.0] * 5


def test_daily_average_is_judged_only_on_most_of_a_day() -> None:
    rule = d.LimitRule(limit=35.0, averaging_s=86400.0, min_coverage=0.75)
    hourly = [rule.update(T0 + 3600.0 * i, 50.0) for i in range(30)]
    assert hourly[:18] == [0.0] * 18  # less than 18 h of data: no daily average yet
    assert hourly[18:] == [1.0] * 12


def test_ozone_daily_limit_is_an_8_hour_mean() -> None:
    # СанПиН 1.2.3685-21 gives ozone's ПДК с.с. (100 µg/m³) as an 8-hour mean: judged
    # once 6 h (three quarters) of readings are in, not after 18 h like the others.
    ozone, no2 = d.air_quality_rule("o3"), d.air_quality_rule("no2")
    times = [T0 + 1200.0 * i for i in range(24)]  # 8 h of 20-minute readings
    fired = [ozone.update(t, 120.0) for t in times]
    assert fired[:18] == [0.0] * 18  # under 6 h of data
    assert fired[18:] == [1.0] * 6
    assert max(no2.update(t, 120.0) for t in times) == 0.0  # NO₂'s 100 is a 24 h mean


def test_limit_rule_resets_when_the_average_falls() -> None:
    rule = d.LimitRule(limit=10.0, lasts_at_least_s=120.0)
    assert [rule.update(T0 + 60 * i, x) for i, x in enumerate([20, 20, 20, 5, 20, 20])] == [
        0.0,
        0.0,
        1.0,
        0.0,
        0.0,
        0.0,
    ]


def test_range_and_unit_mistake() -> None:
    r = d.Range(low=0.0, high=1000.0)
    assert [r.update(T0, x) for x in (5.0, -1.0, 1001.0, math.nan)] == [0.0, 1.0, 1.0, 1.0]
    u = d.UnitMistake()
    for i in range(50):
        assert u.update(T0 + i, 20.0 + i % 5) == 0.0
    assert u.update(T0 + 60, 21_000.0) == 1.0
    assert u.update(T0 + 61, 40.0) == 0.0  # pollution doubling is not a unit mistake


@pytest.mark.parametrize(
    ("report", "bad"),
    [
        ((30.0, 50.0, 0.2), False),
        ((0.0, 0.0, 0.0), False),
        ((0.0, 40.0, 0.0), True),  # speed measured with no vehicles
        ((12.0, 40.0, 0.0), True),  # vehicles passed, lane never occupied
        ((12.0, 40.0, 1.3), True),
        ((40.0, 90.0, 0.99), True),  # full lane at free-flow speed
        ((-1.0, 40.0, 0.2), True),
    ],
)
def test_camera_consistency(report: tuple[float, float, float], bad: bool) -> None:
    assert d.CameraConsistency().update(T0, report) == (1.0 if bad else 0.0)


def test_silence_fires_on_tick_without_data_and_clears_on_arrival() -> None:
    s = d.Silence(expected_interval_s=60.0, k=3.0)
    assert s.tick(T0 + 10_000) == 0.0  # never heard from: not judged
    s.update(T0, 1.0)
    assert s.tick(T0 + 170.0) == 0.0
    assert s.tick(T0 + 181.0) == 1.0
    s.update(T0 - 500.0, 1.0)  # late data does not move the clock back
    assert s.tick(T0 + 181.0) == 1.0
    s.update(T0 + 200.0, 1.0)
    assert s.tick(T0 + 210.0) == 0.0


def test_flatline_needs_both_count_and_duration() -> None:
    f = d.Flatline(min_duration_s=600.0, min_count=5)
    scores = [f.update(T0 + 60.0 * i, 7.0) for i in range(12)]
    assert scores[:10] == [0.0] * 10
    assert scores[10:] == [1.0, 1.0]
    assert f.update(T0 + 60.0 * 12, 7.5) == 0.0


def test_traffic_light_faults() -> None:
    stuck = d.StuckPhase(max_phase_s=120.0)
    assert stuck.update(T0, "red") == 0.0
    assert stuck.tick(T0 + 100.0) == 0.0
    assert stuck.tick(T0 + 121.0) == 1.0  # fires with no report arriving
    assert stuck.update(T0 + 122.0, "green") == 0.0
    dark = d.SignalDark(grace_s=30.0)
    assert dark.update(T0, "flashing_yellow") == 0.0
    assert dark.tick(T0 + 31.0) == 1.0
    assert dark.update(T0 + 32.0, "red") == 0.0
    lamp = d.LampFault(min_reports=2)
    assert [lamp.update(T0 + i, f) for i, f in enumerate([True, False, True, True])] == [
        0.0,
        0.0,
        0.0,
        1.0,
    ]


def test_congestion_compares_with_the_same_hour_of_week() -> None:
    c = d.Congestion(ratio=0.5, min_occupancy=0.3, lasts_at_least_s=300.0)
    week = 7 * 86400.0
    for w in range(2):  # two normal weeks, a reading every 10 minutes
        for i in range(0, int(week), 600):
            assert c.update(MONDAY + w * week + i, (60.0, 0.1)) == 0.0
    t = MONDAY + 2 * week + 8 * 3600.0
    jam = [c.update(t + 60.0 * i, (15.0, 0.6)) for i in range(8)]
    assert jam[:5] == [0.0] * 5
    assert jam[5:] == [1.0] * 3
    slow_but_empty = d.Congestion()
    for i in range(0, int(2 * week), 600):
        slow_but_empty.update(MONDAY + i, (60.0, 0.1))
    assert max(slow_but_empty.update(t + 60.0 * i, (15.0, 0.05)) for i in range(10)) == 0.0


def test_seasonal_bins_start_on_monday_local_time() -> None:
    s = d.SeasonalBaseline(utc_offset_s=3 * 3600.0)
    assert s._bin(MONDAY - 3 * 3600.0) == 0  # Monday 00:00 in Moscow
    assert s._bin(MONDAY) == 3


def test_parking_full_for_long_and_stuck() -> None:
    full = d.FullForLong(full_ratio=0.98, lasts_at_least_s=3600.0)
    scores = [full.update(T0 + 600.0 * i, (100.0, 100.0)) for i in range(8)]
    assert scores[:6] == [0.0] * 6
    assert scores[6:] == [1.0, 1.0]
    assert full.update(T0 + 600.0 * 8, (50.0, 100.0)) == 0.0
    stuck = d.ParkingStuck(min_duration_s=3600.0, min_count=5)
    assert max(stuck.update(T0 + 600.0 * i, 40.0) for i in range(6)) == 0.0
    assert stuck.update(T0 + 600.0 * 6, 40.0) == 1.0
    assert d.ParkingConsistency().update(T0, (101.0, 100.0)) == 1.0


def test_camera_forest_learns_normal_combinations_per_device() -> None:
    import random

    rng = random.Random(0)
    forest = d.CameraForest(seed=1, window_size=100)
    for i in range(600):
        forest.update(T0 + 60.0 * i, (rng.gauss(30, 3), rng.gauss(60, 4), rng.gauss(0.15, 0.02)))
    normal = forest.update(T0 + 60.0 * 600, (30.0, 60.0, 0.15))
    odd = forest.update(T0 + 60.0 * 601, (160.0, 5.0, 0.9))
    assert odd > normal
    assert odd >= 0.8


def test_alarm_hysteresis() -> None:
    alarm = d.Alarm(on=0.8, off=0.5)
    assert [alarm(s) for s in (0.2, 0.85, 0.7, 0.6, 0.4, 0.79)] == [
        False,
        True,
        True,
        True,
        False,
        False,
    ]
    with pytest.raises(d.DetectorConfigError):
        d.Alarm(on=0.5, off=0.8)


def test_keyed_keeps_series_apart_and_pickles() -> None:
    factory = functools.partial(lambda_free_factory, span=50)
    keyed: d.Keyed[tuple[str, str], float] = d.Keyed(factory)
    for i in range(100):
        keyed.update(("cam-1", "speed"), T0 + i, 50.0 + (i % 3))
        keyed.update(("eco-1", "pm25"), T0 + i, 10.0 + (i % 3))
    assert len(keyed) == 2
    restored = pickle.loads(pickle.dumps(keyed))
    a = keyed.update(("cam-1", "speed"), T0 + 200, 10.0)
    b = restored.update(("cam-1", "speed"), T0 + 200, 10.0)
    assert a == b > 0.5
    assert keyed.update(("eco-1", "pm25"), T0 + 200, 11.0) < 0.5


def lambda_free_factory(key: tuple[str, str], *, span: int) -> d.Detector[float]:
    return d.Deviation(span=span)


def test_bad_configuration_is_refused_at_once() -> None:
    with pytest.raises(d.DetectorConfigError):
        d.Deviation(span=1)
    with pytest.raises(d.DetectorConfigError):
        d.air_quality_rule("radon")
    with pytest.raises(ValueError, match="period"):
        d.SeasonalBaseline(period_s=1000.0, bin_s=300.0)


def _daily_wave(i: int) -> float:
    return 50.0 + 20.0 * math.sin(2 * math.pi * (i % 288) / 288)


def test_novelty_scores_new_values_not_familiar_ones() -> None:
    nov = d.Novelty()
    t = [MONDAY + 300.0 * i for i in range(3000)]
    scores = [nov.update(t[i], _daily_wave(i)) for i in range(2000)]
    assert scores[: nov.warm_up] == [0.0] * nov.warm_up
    assert max(scores[600:]) < 0.1  # the wave repeats itself: nothing new after a day
    assert nov.update(t[2000], 95.0) > 0.5  # far above anything seen
    assert nov.update(t[2001], _daily_wave(2001)) < 0.05
    assert nov.update(t[2002], 95.0) < 0.05  # seen once: no longer news


def test_novelty_notices_a_missing_daily_peak_by_time_of_day() -> None:
    nov = d.Novelty()
    plain = d.Novelty(context_weight=0.0)
    peak = 72  # the wave tops at 06:00 and bottoms at 18:00; at the peak, serve a low
    for i in range(288 * 10):
        x = _daily_wave(i)
        s = nov.update(MONDAY + 300.0 * i, x)
        p = plain.update(MONDAY + 300.0 * i, x)
        assert max(s, p) < 0.1 or i < 288 * 2  # the same wave every day: nothing new
    i = 288 * 10 + peak
    t = MONDAY + 300.0 * i
    low = _daily_wave(216 + 14)  # seen every evening
    assert plain.update(t, low) < 0.05  # the value itself is common
    assert nov.update(t, low) > 0.3  # but never in the morning


def test_novelty_ignores_units_and_ramps_up_with_experience() -> None:
    a, b = d.Novelty(), d.Novelty()
    for i in range(1500):
        x = _daily_wave(i) + (40.0 if i % 500 == 499 else 0.0)
        assert a.update(MONDAY + 300.0 * i, x) == pytest.approx(
            b.update(MONDAY + 300.0 * i, 1000.0 * x), rel=1e-6, abs=1e-9
        )
    early, late = d.Novelty(ramp=200.0), d.Novelty(ramp=200.0)
    for i in range(120):
        early.update(MONDAY + 300.0 * i, _daily_wave(i))
    for i in range(1200):
        late.update(MONDAY + 300.0 * i, _daily_wave(i))
    assert 0.0 < early.update(MONDAY, 200.0) < late.update(MONDAY, 200.0)


def test_novelty_checkpoint_stays_small_on_endless_noise() -> None:
    """Values merge into cells of 1/1000 of the range: the state does not grow per reading."""
    rng = random.Random(3)
    nov = d.Novelty()
    for i in range(30_000):
        nov.update(MONDAY + 60.0 * i, rng.uniform(0.0, 100.0))
    assert len(pickle.dumps(nov)) < 250_000


def test_novelty_forgets_values_not_seen_for_memory_readings() -> None:
    rng = random.Random(4)
    nov = d.Novelty(memory=400, context_weight=0.0, ramp=0.0)
    t = iter(MONDAY + 60.0 * i for i in range(10_000))
    for _ in range(300):
        nov.update(next(t), rng.uniform(0.0, 1.0))
    for _ in range(600):
        nov.update(next(t), 100.0 + rng.uniform(0.0, 1.0))
    # the old level left memory 200 readings ago: coming back to it is news again
    assert nov.update(next(t), 0.5) > 0.5
    recent = d.Novelty(memory=4000, context_weight=0.0, ramp=0.0)
    for _ in range(300):
        recent.update(next(t), rng.uniform(0.0, 1.0))
    for _ in range(600):
        recent.update(next(t), 100.0 + rng.uniform(0.0, 1.0))
    assert recent.update(next(t), 0.5) < 0.1


class _Scripted(d.Detector[float]):
    """Scores what it is fed: ``x`` is the score (a stand-in for any inner detector)."""

    __slots__ = ()

    def update(self, t: float, x: float) -> float:
        return x


def _rarity_reference(past: list[float], s: float, bins: int) -> float:
    """Rarity by its definition: s × log((n+1)/(1+k)) / log(n+1), k the past scores in
    s's cell of 1/bins or above."""
    n, k = len(past), sum(1 for p in past if int(p * bins) >= int(s * bins))
    return s * math.log((n + 1) / (1 + k)) / math.log(n + 1)


def test_rarity_damps_a_score_the_series_often_reaches_and_keeps_a_rare_one() -> None:
    noisy, quiet = d.Rarity(_Scripted()), d.Rarity(_Scripted())
    for i in range(2000):
        noisy.update(T0 + i, 0.3 if i % 2 else 0.0)  # novel every other reading
        quiet.update(T0 + i, 0.3 if i == 700 else 0.0)  # once
    assert noisy.update(T0 + 2000, 0.3) < 0.05  # half its readings scored as much
    assert quiet.update(T0 + 2000, 0.3) > 0.25  # twice in 2,000: nearly all of it
    assert noisy.update(T0 + 2001, 0.6) > 0.55  # its highest yet
    assert d.Rarity(_Scripted()).update(T0, 0.9) == 0.0  # nothing known yet
    assert quiet.update(T0 + 2002, math.nan) == 0.0


def test_rarity_is_its_definition_on_the_scores_seen() -> None:
    rng = random.Random(5)
    bins = 512
    det = d.Rarity(_Scripted(), bins=bins, memory=10**9, min_count=1)
    past: list[float] = []
    for i in range(3000):
        s = rng.random() ** 3  # mostly small, now and then high
        got = det.update(T0 + i, s)
        want = _rarity_reference(past, s, bins) if past and s > 0.0 else 0.0
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), i
        past.append(s)


def test_rarity_forgets_old_scores_and_keeps_its_size() -> None:
    det = d.Rarity(_Scripted(), memory=1000)
    for i in range(900):
        det.update(T0 + i, 0.4 if i % 3 else 0.0)  # 0.4 is common ...
    assert det.update(T0 + 900, 0.4) < 0.1
    size = len(pickle.dumps(det))
    for i in range(20_000):
        det.update(T0 + 1000 + i, 0.0)  # ... then long forgotten
    assert det.update(T0 + 30_000, 0.4) > 0.35
    assert len(pickle.dumps(det)) <= size + 64  # the same cells, halved counts
    with pytest.raises(d.DetectorConfigError):
        d.Rarity(_Scripted(), bins=1)
