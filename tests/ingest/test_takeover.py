"""Two ``citypulse ingest`` processes on one shared subscription: one dies for good, or
scales down; no acknowledged reading waits for it.

Mosquitto deals the group's messages round-robin to every member's session, the dead
one's too; a survivor takes the dead worker's session over after ``--takeover-after``
seconds without a heartbeat, drains it and ends it.  A worker stopped with SIGTERM while
its peer is alive unsubscribes first, drains, and ends its session itself.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest

from citypulse.db import connect
from lab._ingest_process import IngestProcess
from tests._mqtt import Publisher, print_counts, wait_for
from tests.fix_mqtt import Broker
from tests.ingest.test_process import start_ingest
from tests.ingest.test_worker import BASE, camera_message, count, stored_camera

TAKEOVER_AFTER = 10  # s of silence before a survivor takes over (45 in production)
STORED_WITHIN = TAKEOVER_AFTER + 30  # s after the kill: the stated bound


def _expected(n: int, devices: int) -> Counter[tuple[str, object, int]]:
    return Counter((f"cam-{i % devices}", BASE + timedelta(seconds=i), i % 97) for i in range(n))


def _sessions(db_url: str) -> set[str]:
    with connect(db_url) as conn:
        return {r[0] for r in conn.execute("SELECT client_id FROM ingest_sessions")}


def _duplicates(db_url: str) -> int:
    with connect(db_url) as conn:
        row = conn.execute("SELECT coalesce(sum(duplicates), 0) FROM ingest_stats").fetchone()
    assert row is not None
    return int(row[0])


def _stop(*procs: IngestProcess) -> None:
    for proc in procs:
        if proc.proc.poll() is None:
            proc.signal(signal.SIGTERM)
    for proc in procs:
        proc.stop(timeout=60)


@pytest.mark.faults
@pytest.mark.slow
def test_a_worker_killed_for_good_has_its_share_stored_by_the_survivor(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    n, devices = 6000, 7
    messages = [camera_message(topic_root, f"cam-{i % devices}", i) for i in range(n)]
    takeover = ("--takeover-after", str(TAKEOVER_AFTER))
    doomed = start_ingest(db_url, mqtt_broker, topic_root, f"doomed-{topic_root}", *takeover)
    survivor = start_ingest(db_url, mqtt_broker, topic_root, f"heir-{topic_root}", *takeover)
    pub = Publisher(mqtt_broker.mqtt)
    try:
        sender = threading.Thread(target=pub.publish, args=(messages,), kwargs={"rate": 300})
        sender.start()
        wait_for(lambda: count(db_url, "camera_readings") > 1500, 60, "first rows")
        doomed.signal(signal.SIGKILL)
        killed = time.monotonic()
        doomed.wait(10)
        killed_at = count(db_url, "camera_readings")
        sender.join(60)
        pub.wait_acked(n, 60)
        left = STORED_WITHIN - (time.monotonic() - killed)
        wait_for(lambda: count(db_url, "camera_readings") == n, left, f"{n} rows")
        took = time.monotonic() - killed
        # The dead session has ended: the broker deals it nothing more, so whatever comes
        # now is stored at once, by the survivor alone.
        later = [camera_message(topic_root, "cam-late", n + i) for i in range(300)]
        pub.publish(later)
        pub.wait_acked(n + len(later), 30)
        wait_for(lambda: count(db_url, "camera_readings") == n + len(later), 10, "later rows")
        acked = pub.acked
    finally:
        pub.close()
        _stop(doomed, survivor)
    stored = stored_camera(db_url)
    log = "".join(survivor.log)
    print_counts(
        f"one of two workers SIGKILLed at {killed_at} rows, never restarted",
        n + len(later),
        acked,
        sum(stored.values()),
    )
    print(f"  all {n} stored {took:.1f} s after the kill (publishing went on till ~15 s)")
    assert 1500 < killed_at < n - 1500, "the kill did not happen mid-stream"
    assert acked == n + len(later)
    assert stored == _expected(n, devices) + Counter(
        ("cam-late", BASE + timedelta(seconds=n + i), (n + i) % 97) for i in range(300)
    )
    assert "draining its MQTT session" in log
    assert f"the MQTT session of doomed-{topic_root} is drained and ended" in log
    # The dead worker's row went with its session; the survivor, the last member, keeps
    # its session (and row) at SIGTERM, for its return.
    assert _sessions(db_url) == {f"heir-{topic_root}"}


@pytest.mark.faults
@pytest.mark.slow
def test_scaling_down_with_sigterm_leaves_the_group_drains_and_ends_the_session(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    n, devices = 6000, 7
    messages = [camera_message(topic_root, f"cam-{i % devices}", i) for i in range(n)]
    never = ("--takeover-after", "600")  # no takeover within the test: scaling down alone
    leaving = start_ingest(db_url, mqtt_broker, topic_root, f"leaving-{topic_root}", *never)
    staying = start_ingest(db_url, mqtt_broker, topic_root, f"staying-{topic_root}", *never)
    pub = Publisher(mqtt_broker.mqtt)
    try:
        wait_for(lambda: len(_sessions(db_url)) == 2, 20, "two heartbeats")
        sender = threading.Thread(target=pub.publish, args=(messages,), kwargs={"rate": 400})
        sender.start()
        wait_for(lambda: count(db_url, "camera_readings") > 1500, 60, "first rows")
        started = time.monotonic()
        leaving.signal(signal.SIGTERM)
        code = leaving.wait(60)
        took = time.monotonic() - started
        left_at = count(db_url, "camera_readings")
        sender.join(60)
        pub.wait_acked(n, 60)
        wait_for(lambda: count(db_url, "camera_readings") == n, 15, f"{n} rows")
        acked = pub.acked
        sessions = _sessions(db_url)
    finally:
        pub.close()
        _stop(leaving, staying)
    stored = stored_camera(db_url)
    log = "".join(leaving.log)
    print_counts(
        f"one of two workers scaled down (SIGTERM) at {left_at} rows in {took:.1f} s",
        n,
        acked,
        sum(stored.values()),
    )
    assert code == 0, log
    assert left_at < n - 1500, "the worker did not leave mid-stream"
    assert "unsubscribed" in log
    assert "session ended" in log, log
    assert sessions == {f"staying-{topic_root}"}
    assert stored == _expected(n, devices)
    assert _duplicates(db_url) == 0  # nothing it held was redelivered
