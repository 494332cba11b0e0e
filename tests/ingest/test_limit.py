"""The per-device rate limit: a token bucket per device, the excess a dead letter."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from citypulse.db import connect
from ingest import Decoder, RateLimiter
from tests._mqtt import publish_all, wait_for
from tests.fix_mqtt import Broker
from tests.ingest.test_worker import BASE, camera_message, config, running, stored_camera

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_burst_then_rate_per_device() -> None:
    limiter = RateLimiter(rate=10, burst=5)
    assert [limiter.admit("a", 1, 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.admit("b", 5, 0.0)  # another device has a bucket of its own
    assert not limiter.admit("a", 1, 0.05)  # half a token refilled
    assert limiter.admit("a", 1, 0.1)
    assert limiter.admit("a", 5, 10.0)  # refills up to the burst, no further
    assert not limiter.admit("a", 1, 10.0)
    assert not limiter.admit("c", 6, 0.0)  # a batch larger than the burst never fits


@settings(max_examples=100, deadline=None)
@given(
    rate=st.floats(0.5, 1000),
    burst=st.integers(1, 100),
    steps=st.lists(st.tuples(st.floats(0, 2), st.integers(1, 20)), max_size=60),
)
def test_admitted_readings_never_exceed_burst_plus_rate_times_elapsed(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    limiter = RateLimiter(rate=rate, burst=burst)
    now, admitted = 0.0, 0
    for gap, cost in steps:
        now += gap
        if limiter.admit("dev", cost, now):
            admitted += cost
    assert admitted <= burst + rate * now + 1e-6


def test_a_limited_message_becomes_a_rate_limited_rejection() -> None:
    limiter = RateLimiter(rate=1, burst=2)
    decoder = Decoder()
    topic = "city/leninsky/ecology/eco-1/telemetry"
    batch = decoder.decode(topic, orjson.dumps([{"pm25": 1}, {"pm25": 2}, {"pm25": 3}]), NOW)
    out = limiter.check(batch, 0.0)
    assert out.rows == ()
    assert [r.reason for r in out.rejections] == ["rate_limited"]
    assert "3 reading(s)" in out.rejections[0].detail
    single = decoder.decode(topic, b'{"pm25": 1}', NOW)
    assert limiter.check(single, 0.0) is single


def test_a_flood_from_one_device_is_limited_and_others_are_unaffected(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    root = topic_root
    normal = [camera_message(root, f"cam-{d}", i) for i in range(40) for d in range(3)]
    flood = [camera_message(root, "cam-flood", 1000 + i) for i in range(1500)]
    mixed = [
        m for pair in zip(flood, normal + [None] * len(flood), strict=False) for m in pair if m
    ]
    cfg = config(db_url, mqtt_broker, root, rate_limit=20.0, rate_burst=100.0)
    with running(cfg) as worker:
        started = time.monotonic()
        publish_all(mqtt_broker.mqtt, mixed)
        wait_for(
            lambda: worker.counters.totals()["received"] == len(mixed), 60, "all messages handled"
        )
        elapsed = time.monotonic() - started
    stored = stored_camera(db_url)
    by_device = Counter(device for device, _, _ in stored.elements())
    assert {d: by_device[f"cam-{d}"] for d in range(3)} == {0: 40, 1: 40, 2: 40}
    with connect(db_url) as conn:
        letters = conn.execute("SELECT reason, device_id, detail FROM dead_letters").fetchall()
    limited = [r for r in letters if r[0] == "rate_limited"]
    assert {r[1] for r in letters} == {"cam-flood"}
    assert len(limited) == len(letters)
    assert by_device["cam-flood"] + len(limited) == len(flood)  # every one accounted for
    assert 100 <= by_device["cam-flood"] <= 100 + 20 * elapsed + 1  # burst + rate x time
    assert len(limited) > 0
    assert "exceeded 20 readings/s" in limited[0][2]
    normal_rows = {
        (f"cam-{d}", BASE + timedelta(seconds=i), i % 97) for i in range(40) for d in range(3)
    }
    assert normal_rows <= set(stored)
    print(
        f"flood: {len(flood)} from cam-flood in {elapsed:.1f}s -> {by_device['cam-flood']} stored,"
        f" {len(limited)} rate_limited; 3 normal devices: {len(normal)} published,"
        f" {sum(by_device[f'cam-{d}'] for d in range(3))} stored"
    )
