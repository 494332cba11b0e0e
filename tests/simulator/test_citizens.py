"""Citizens' reports follow the documented rates, seasonality, surges and fault rules."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from appeals._routing import load_routing
from simulator import (
    FOLLOW,
    SERVICES,
    CitizenReport,
    Fault,
    FaultType,
    ReportArrays,
    ReportKind,
    Scale,
    bulk_reports,
    citizen_reports,
    daily_rate,
    follow_faults,
    make_surge,
    preset_city,
    random_surges,
    rate_table,
    read_citizens_truth,
    write_citizens_truth,
)
from simulator._citizen_rates import HOURLY, WEEKDAY, HourProfile, hourly_rate
from simulator._signals import MSK_OFFSET_S

CITY = preset_city()
MONDAY = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)  # Monday 2026-11-23 00:00 МСК
WEEKS = 12
Z = 4.5  # tolerance in standard deviations: a false alarm is about 1 in 150,000 per check
_M_PER_DEG = 111_320.0


def _weeks(
    weeks: int = WEEKS, scale: Scale = Scale.CITY, seed: int = 3
) -> tuple[np.ndarray, ReportArrays]:
    arrays = bulk_reports(
        CITY, start=MONDAY, end=MONDAY + timedelta(weeks=weeks), scale=scale, seed=seed
    )
    return np.stack([arrays.service, arrays.district]).T, arrays


def _within_poisson(observed: float, expected: float) -> bool:
    return abs(observed - expected) <= Z * math.sqrt(max(expected, 1.0))


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat1 - lat2) * _M_PER_DEG
    dx = (lon1 - lon2) * _M_PER_DEG * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def test_services_and_sectors_are_the_routings() -> None:
    routing = load_routing()
    assert {s.code: s.sector for s in SERVICES} == {
        s.service_code: s.group for s in routing.services
    }


def test_region_scale_spans_two_to_two_hundred_a_day() -> None:
    rates = list(rate_table(CITY, Scale.REGION).values())
    assert 1.5 <= min(rates) <= 3.0
    assert 150.0 <= max(rates) <= 250.0
    assert sum(r >= 20.0 for r in rates) >= 10  # enough cells for a gated evaluation
    assert sum(r < 20.0 for r in rates) >= 10  # and smaller ones to report
    city_rates = rate_table(CITY, Scale.CITY)
    assert all(
        math.isclose(r, city_rates[k] * Scale.REGION.value)
        for k, r in rate_table(CITY, Scale.REGION).items()
    )


def test_counts_per_cell_follow_the_rate_table() -> None:
    cells, arrays = _weeks()
    observed = Counter(map(tuple, cells.tolist()))
    days = WEEKS * 7
    checked = 0
    for s_i, service in enumerate(SERVICES):
        for d_i, district in enumerate(CITY.districts):
            expected = daily_rate(service.code, district) * days
            got = observed.get((s_i, d_i), 0)
            assert _within_poisson(got, expected), (service.code, district.slug, got, expected)
            checked += expected > 0
    assert checked == sum(s.per_100k > 0 for s in SERVICES) * len(CITY.districts)
    # Services about the city's own devices: nobody outside reports them.
    for code in ("traffic-camera", "eco-monitoring", "city-sensors"):
        assert code not in arrays.service_codes()


def _local(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    local = t + MSK_OFFSET_S
    return (local // 3600).astype(int) % 24, ((local // 86400).astype(int) + 3) % 7


def test_hour_of_day_and_weekday_shape() -> None:
    _, arrays = _weeks(weeks=4, scale=Scale.REGION)
    hour, weekday = _local(arrays.t)
    day_services = [i for i, s in enumerate(SERVICES) if s.profile is HourProfile.DAY]
    day = np.isin(arrays.service, day_services)
    per_day = sum(r for (code, _), r in rate_table(CITY, Scale.REGION).items() if code != "noise")
    days = 4 * 7
    counts = np.bincount(hour[day], minlength=24)
    for h in range(24):
        expected = per_day * days * HOURLY[HourProfile.DAY][h] / 24
        assert _within_poisson(counts[h], expected), (h, counts[h], expected)
    assert counts[10:13].sum() > 8 * counts[2:5].sum()  # the day's peak against the night
    by_weekday = np.bincount(weekday, minlength=7)
    total = len(arrays) / days * 4  # reports per weekday over the four weeks, on average
    for w in range(7):
        assert _within_poisson(by_weekday[w], total * WEEKDAY[w]), (w, by_weekday[w])
    assert by_weekday[:5].mean() > 1.15 * by_weekday[5:].mean()  # weekdays busier
    noise = arrays.service == SERVICES.index(next(s for s in SERVICES if s.code == "noise"))
    noise_hours = np.bincount(hour[noise], minlength=24)
    assert noise_hours[[22, 23, 0, 1]].sum() > 1.5 * noise_hours[[12, 13, 14, 15]].sum()


def test_a_surge_doubles_its_cell_in_its_window_and_is_in_the_ground_truth(tmp_path: Path) -> None:
    at = MONDAY + timedelta(days=2, hours=5)
    surge = make_surge(CITY, "thaw_potholes", "leninsky", at, multiplier=2.0, seed=4)
    assert surge.services == ("road-damage",)
    assert surge.sector == "Дороги"
    end = MONDAY + timedelta(weeks=1)
    reports = citizen_reports(
        CITY, start=MONDAY, end=end, scale=Scale.REGION, seed=5, surges=[surge]
    )
    district = CITY.district("leninsky")
    normal = sum(
        hourly_rate("road-damage", district, (at + timedelta(hours=h)).timestamp(), Scale.REGION)
        for h in range(24)
    )
    in_cell = [r for r in reports if r.service_code == "road-damage" and r.district == "leninsky"]
    window = [r for r in in_cell if surge.start <= r.time < surge.end]
    extra = [r for r in window if r.kind is ReportKind.SURGE]
    assert _within_poisson(len(window), 2.0 * normal), (len(window), normal)
    assert _within_poisson(len(extra), normal), (len(extra), normal)
    assert all(r.truth == surge.id for r in extra)
    assert all(r.kind is ReportKind.BACKGROUND and r.truth == "" for r in in_cell if r not in extra)
    assert not [r for r in reports if r.kind is ReportKind.SURGE and r not in extra]
    # The extra reports cluster around the surge's centre; the background spreads out.
    near = statistics.median(_distance_m(r.lat, r.lon, surge.lat, surge.lon) for r in extra)
    background = [r for r in in_cell if r.kind is ReportKind.BACKGROUND]
    far = statistics.median(_distance_m(r.lat, r.lon, surge.lat, surge.lon) for r in background)
    assert near < 250.0 < far
    path = tmp_path / "citizens.jsonl"
    lines = write_citizens_truth(path, reports, [surge], city=CITY, scale=Scale.REGION)
    truth = read_citizens_truth(path)
    assert lines == len(truth) == len(reports) + 1
    first = truth[0]
    assert first["record"] == "surge"
    assert first["id"] == surge.id
    assert first["district_name"] == "Ленинский округ"
    assert first["services"] == ["road-damage"]
    assert first["multiplier"] == 2.0
    assert first["start"] == at.isoformat()
    assert first["normal_per_day"] == daily_rate("road-damage", district, Scale.REGION)
    kinds = Counter(line["kind"] for line in truth[1:])
    assert kinds["surge"] == len(extra)
    assert kinds["background"] == len(reports) - len(extra)


def test_random_surges_fall_in_the_run_without_overlapping_in_a_cell() -> None:
    end = MONDAY + timedelta(weeks=8)
    surges = random_surges(CITY, start=MONDAY, end=end, per_week=3.0, seed=2, multiplier=3.0)
    assert _within_poisson(len(surges), 24.0)
    for s in surges:
        assert MONDAY <= s.start < s.end <= end
        assert s.multiplier == 3.0
        assert s.start.minute == 0
        assert s.start.second == 0
        for o in surges:
            if o is not s and o.district == s.district and o.services == s.services:
                assert o.end <= s.start or s.end <= o.start
    assert (
        random_surges(CITY, start=MONDAY, end=end, per_week=3.0, seed=2, multiplier=3.0) == surges
    )


def _faults(ftype: FaultType, device: str, n: int, duration: timedelta) -> list[Fault]:
    return [
        Fault(
            f"f{k:05d}",
            ftype,
            (device,),
            MONDAY + timedelta(hours=k),
            MONDAY + timedelta(hours=k) + duration,
        )
        for k in range(n)
    ]


def test_fault_follow_probability_and_delay() -> None:
    rule = FOLLOW[FaultType.STUCK_PHASE]
    device = next(d for d in CITY.devices() if d.id == "tl-kirova-pushkina")
    n = 3000
    faults = _faults(FaultType.STUCK_PHASE, device.id, n, timedelta(days=2))
    reports = follow_faults(CITY, faults, seed=1)
    share_sd = math.sqrt(rule.p * (1 - rule.p) / n)
    assert abs(len(reports) / n - rule.p) <= Z * share_sd
    starts = {f.id: f.start for f in faults}
    logs = [math.log((r.time - starts[r.truth]).total_seconds()) for r in reports]
    # The median of the log-delay (its sampling sd: 1.2533 sigma / sqrt(n)) and its sd.
    median_sd = 1.2533 * rule.sigma / math.sqrt(len(logs))
    assert abs(statistics.median(logs) - math.log(rule.median_s)) <= Z * median_sd
    assert abs(statistics.stdev(logs) - rule.sigma) <= Z * rule.sigma / math.sqrt(2 * len(logs))
    for r in reports[:50]:
        assert r.kind is ReportKind.FAULT_FOLLOW
        assert r.service_code == "traffic-signal"
        assert r.district == device.district
        assert device.lat is not None
        assert device.lon is not None
        assert _distance_m(r.lat, r.lon, device.lat, device.lon) < 150.0
        assert device.address in r.description
    assert [r.id for r in reports] == sorted(r.id for r in reports)


def test_faults_nobody_sees_and_faults_over_too_soon_are_never_reported() -> None:
    long = timedelta(hours=6)
    unseen = (
        _faults(FaultType.CAMERA_OFFLINE, "cam-kirova-pushkina-n", 200, long)
        + _faults(FaultType.PARKING_STUCK, "pk-leninsky-1", 200, long)
        + _faults(FaultType.POWER_LOSS, "cam-kirova-pushkina-e", 200, long)  # a camera
        + _faults(FaultType.SENSOR_DRIFT, "eco-leninsky-1", 200, long)
    )
    assert follow_faults(CITY, unseen, seed=1) == []
    brief = _faults(FaultType.STUCK_PHASE, "tl-kirova-pushkina", 300, timedelta(seconds=60))
    assert follow_faults(CITY, brief, seed=1) == []
    dark = _faults(FaultType.POWER_LOSS, "tl-kirova-pushkina", 300, long)
    assert len(follow_faults(CITY, dark, seed=1)) > 0.4 * 300


def test_seeded_determinism() -> None:
    end = MONDAY + timedelta(days=2)
    surge = make_surge(CITY, "smell", "moskovsky", MONDAY + timedelta(hours=30), seed=1)
    faults = _faults(FaultType.CONGESTION, "cam-kirova-pushkina-n", 40, timedelta(hours=3))
    args = {"start": MONDAY, "end": end, "surges": [surge], "faults": faults}
    first = citizen_reports(CITY, seed=7, **args)  # type: ignore[arg-type]
    assert first == citizen_reports(CITY, seed=7, **args)  # type: ignore[arg-type]
    assert first != citizen_reports(CITY, seed=8, **args)  # type: ignore[arg-type]
    assert {r.kind for r in first} == set(ReportKind)
    assert [r.time for r in first] == sorted(r.time for r in first)
    assert len({r.id for r in first}) == len(first)


def test_reports_lie_in_their_district_and_read_in_russian() -> None:
    routing = load_routing()
    reports: list[CitizenReport] = citizen_reports(
        CITY, start=MONDAY, end=MONDAY + timedelta(days=3), scale=Scale.REGION, seed=2
    )
    inside = sum(routing.district_at(r.lat, r.lon) == r.district for r in reports)
    assert inside == len(reports)  # as appeals' district boundaries draw them
    for r in reports[:200]:
        assert any("а" <= ch <= "я" for ch in r.description.lower())
        assert "{" not in r.description
        assert r.description.split(", ")[-1].startswith("ул.")


def test_bulk_arrays_are_the_records() -> None:
    end = MONDAY + timedelta(days=1)
    surge = make_surge(CITY, "Дороги", "oktyabrsky", MONDAY + timedelta(hours=8), seed=2)
    assert set(surge.services) == {"road-damage", "traffic-signal", "road-accident"}
    arrays = bulk_reports(CITY, start=MONDAY, end=end, seed=6, surges=[surge])
    records = citizen_reports(CITY, start=MONDAY, end=end, seed=6, surges=[surge])
    assert len(arrays) == len(records)
    assert [r.service_code for r in records] == arrays.service_codes()
    assert [r.description for r in records] == arrays.descriptions()
    assert [round(r.time.timestamp(), 3) for r in records] == np.round(arrays.t, 3).tolist()
    assert [r.kind.code for r in records] == arrays.kind.tolist()
    assert bool(np.all(np.diff(arrays.t) >= 0))
    assert bool(np.all((arrays.t >= MONDAY.timestamp()) & (arrays.t < end.timestamp())))
