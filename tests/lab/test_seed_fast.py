"""The fast window seeder on a few crossings with the large city's mix and rates: every
raw reading the intervals promise, the indexes and triggers back, the rollups of the raw
hours equal to the raw readings and copied back to the start; and the Grafana bench
choosing the large city from 10,000 devices."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime, timedelta

from citypulse.db import connect, scalar
from lab._bench_grafana import LARGE_RANGES, RANGES, plan
from lab._seed import seed_bulk
from lab._seed_fast import KINDS, disk_bytes, expected_rows, seed_window
from simulator import City, generated_city, large_city
from simulator._city import LARGE_INTERVALS

END = datetime(2026, 12, 1, 12, 5, tzinfo=UTC)
_INDEXES = (
    "SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes "
    "WHERE tablename ~ '^[a-z_]+_readings$'"
)
#: Indexes of the readings' partitions, and invalid ones anywhere.
_PARTITION_INDEXES = (
    "SELECT count(*) FROM pg_indexes WHERE tablename ~ '^[a-z_]+_readings_p[0-9]+$'"
)
_PARTITIONS = (
    "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
    "WHERE p.relname ~ '^[a-z_]+_readings$'"
)
_INVALID = "SELECT count(*) FROM pg_index WHERE NOT indisvalid"
_DISABLED = "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'"


def _small_large_city() -> City:
    # The large city's mix (cameras on the main street only, lots and stations per
    # district) and rates on four crossings: 4 controllers, 8 cameras, 140 lots, 20 posts.
    return large_city(seed=3, intersections=4)


def test_window_at_the_large_citys_rates(db_url: str) -> None:
    city = _small_large_city()
    raw_from, start = datetime(2026, 12, 1, 11, tzinfo=UTC), END - timedelta(hours=3)
    with connect(db_url) as conn:
        indexes = scalar(conn, _INDEXES)
        per_partition = scalar(conn, _PARTITION_INDEXES) / scalar(conn, _PARTITIONS)
        assert per_partition == 3  # primary key, time, received_at
    report = seed_window(db_url, city, start=start, end=END, raw_from=raw_from, seed=2)
    devices = city.devices()
    kinds = Counter(d.kind.value for d in devices)
    assert kinds == {"traffic_light": 4, "camera": 8, "parking": 140, "ecology": 20}
    expected = expected_rows(city, devices, LARGE_INTERVALS, END - raw_from)
    # a controller every second and a camera lane every 2 s over 65 minutes
    assert expected["lights"] == 4 * 65 * 60
    assert report.readings == sum(expected.values())
    with connect(db_url) as conn:
        assert scalar(conn, _INDEXES) == indexes
        assert scalar(conn, _PARTITION_INDEXES) == per_partition * scalar(conn, _PARTITIONS)
        assert scalar(conn, _INVALID) == 0
        assert scalar(conn, _DISABLED) == 0
        for kind in KINDS:
            raw = scalar(conn, f"SELECT count(*) FROM {kind}_readings")
            assert raw == report.readings_by_kind[kind]
            assert raw > 0
            in_rollups = scalar(
                conn,
                f"SELECT sum(readings) FROM {kind}_1m WHERE bucket >= %s",
                (raw_from,),
            )
            assert in_rollups == raw
            hourly = scalar(
                conn,
                f"SELECT sum(readings) FROM {kind}_1h WHERE bucket >= %s",
                (raw_from,),
            )
            assert hourly == raw
            # the raw hour's rollups copied back an hour at a time, to the start's hour
            assert scalar(conn, f"SELECT min(bucket) FROM {kind}_1m") == datetime(
                2026, 12, 1, 9, tzinfo=UTC
            )
            assert scalar(
                conn,
                f"SELECT count(*) FROM {kind}_1h WHERE bucket < %s",
                (raw_from,),
            ) == 2 * scalar(
                conn,
                f"SELECT count(*) FROM {kind}_1h WHERE bucket = %s",
                (raw_from,),
            )
        disk = disk_bytes(conn)
    assert all(v > 0 for v in disk.values())


def _args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "quick": False,
        "city": None,
        "devices": 500,
        "days": None,
        "raw_hours": 6,
    }
    return argparse.Namespace(**(base | kw))


def test_bench_takes_the_large_city_from_ten_thousand_devices() -> None:
    large = plan(_args(devices=10_000))
    assert large.large
    assert large.devices == 10_075
    assert large.ranges == LARGE_RANGES
    assert not plan(_args(devices=10_000, city="generated")).large
    small = plan(_args())
    assert not small.large
    assert small.ranges == RANGES
    assert plan(_args(city="large", days=2)).days == 2


def test_bulk_seed_keeps_its_own_rates(db_url: str) -> None:
    # seed_bulk shares the generating statements: a day at its rates (a lane a minute, a
    # controller every 20 s, a lot every 5 minutes, a station every 20 minutes).
    city = generated_city(1, seed=3)
    start = datetime(2026, 11, 30, tzinfo=UTC)
    report = seed_bulk(db_url, city, start=start, end=start + timedelta(days=1), seed=2)
    devices = city.devices()
    lanes = sum(int(str(d.attributes["lanes"])) for d in devices if d.kind.value == "camera")
    count = Counter(d.kind.value for d in devices)
    assert report.readings == (
        lanes * 1440 + count["traffic_light"] * 4320 + count["parking"] * 288
        + count["ecology"] * 72
    )  # fmt: skip
    with connect(db_url) as conn:
        assert scalar(conn, "SELECT sum(readings) FROM camera_1h") == lanes * 1440
