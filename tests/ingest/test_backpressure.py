"""A long database outage with batch payloads: ingest stays connected to the broker.

While the database is away, what ingest holds grows to ``max_pending_rows`` readings and
it stops reading the broker's socket; paho's network thread must keep sending pings
meanwhile, or the broker drops the connection after 1.5 keepalives and redelivers every
unacknowledged message (written twice after recovery).

``CITYPULSE_TEST_LONG_OUTAGE_S`` sets the outage (default 120 s: four keepalives of
30 s, well past the broker's 45 s).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from datetime import timedelta

import orjson
import pytest

from citypulse.db import connect
from tests._mqtt import Publisher, print_counts, wait_for
from tests.fix_mqtt import Broker
from tests.ingest.test_faults import db_proxy, through
from tests.ingest.test_worker import BASE, config, count, running

OUTAGE_S = float(os.environ.get("CITYPULSE_TEST_LONG_OUTAGE_S", "120"))
PER_MESSAGE = 50


def ecology_batch(root: str, device: str, i: int) -> tuple[str, bytes]:
    """Message ``i`` of ``device``: 50 readings, a second apart, none shared with another."""
    start = BASE - timedelta(days=1) + timedelta(seconds=i * PER_MESSAGE)
    readings = [
        {"time": (start + timedelta(seconds=j)).isoformat(), "pm25": float((i + j) % 90)}
        for j in range(PER_MESSAGE)
    ]
    return f"{root}/centr/ecology/{device}/telemetry", orjson.dumps(readings)


@pytest.mark.faults
@pytest.mark.slow
def test_a_long_outage_with_batch_payloads_keeps_the_connection_and_stores_once(
    db_url: str, mqtt_broker: Broker, topic_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ingest")
    n, devices = 1200, 4
    messages = [ecology_batch(topic_root, f"eco-{i % devices}", i // devices) for i in range(n)]
    with db_proxy(db_url) as proxy:
        cfg = config(
            through(db_url, proxy.port),
            mqtt_broker,
            topic_root,
            batch_rows=2_000,
            max_pending_rows=20_000,
            rate_limit=None,
            retry_cap=2.0,
            keepalive=30,
        )
        with running(cfg) as worker, Publisher(mqtt_broker.mqtt) as pub:
            pub.publish(messages[:200])
            wait_for(lambda: count(db_url, "ecology_readings") == 200 * PER_MESSAGE, 60, "rows")
            proxy.cut()
            cut_at = time.monotonic()
            pub.publish(messages[200:])
            pub.wait_acked(n, 60)
            most_held = 0
            while time.monotonic() - cut_at < OUTAGE_S:
                most_held = max(most_held, worker._unacknowledged()[1])
                time.sleep(0.2)
            proxy.restore()
            restored_at = time.monotonic()
            wait_for(lambda: count(db_url, "ecology_readings") == n * PER_MESSAGE, 120, "all")
            recovered = time.monotonic() - restored_at
            acked = pub.acked
            time.sleep(1.0)  # a redelivery, had there been one, would show by now
            duplicates = worker.counters.duplicates
            holds = worker.counters.backpressure_waits
    with connect(db_url) as conn:
        stored = Counter(
            conn.execute("SELECT device_id, time FROM ecology_readings").fetchall()
        ).most_common(1)
        dupes_in_stats = conn.execute(
            "SELECT coalesce(sum(duplicates), 0) FROM ingest_stats"
        ).fetchone()
    lines = [r.getMessage() for r in caplog.records]
    disconnects = [m for m in lines if m.startswith("disconnected from the broker")]
    print_counts(
        f"PostgreSQL unreachable for {OUTAGE_S:g} s, {PER_MESSAGE}-reading messages",
        n,
        acked,
        count(db_url, "ecology_readings") // PER_MESSAGE,
    )
    print(
        f"  at most {most_held} readings held (bound {cfg.max_pending_rows} + in the flushers' "
        f"hands), reading paused {holds} times, {len(disconnects)} disconnects, "
        f"{duplicates} duplicates, stored {recovered:.1f} s after the database came back"
    )
    assert acked == n
    assert not disconnects, disconnects
    assert holds >= 1
    assert duplicates == 0
    assert dupes_in_stats == (0,)
    assert stored[0][1] == 1  # every (device, time) once
    bound = cfg.max_pending_rows + cfg.flushers * cfg.batch_rows + 256 * 1024 // 40
    assert most_held <= bound
