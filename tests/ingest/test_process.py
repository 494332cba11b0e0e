"""``citypulse ingest`` as a real process: SIGKILL mid-stream, restart, SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest

from lab._ingest_process import IngestProcess
from tests._mqtt import Publisher, print_counts, wait_for
from tests._procs import free_port
from tests.fix_mqtt import Broker
from tests.ingest.test_worker import BASE, camera_message, count, stored_camera


def start_ingest(
    db_url: str, broker: Broker, root: str, client_id: str, *extra: str
) -> IngestProcess:
    """A worker on ``root`` with small batches, so that a test's messages span many."""
    return IngestProcess(
        db_url,
        broker.url,
        client_id,
        "--topic-root", root,
        "--group", f"g{root}",
        "--batch-size", "300",
        "--batch-age", "0.05",
        "--receive-maximum", "1000",
        *extra,
        timeout=30,
    )  # fmt: skip


@pytest.mark.faults
def test_sigkill_mid_stream_then_restart_stores_everything_once(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    client_id = f"kill-{topic_root}"
    messages = [camera_message(topic_root, f"cam-{i % 7}", i) for i in range(6000)]
    proc = start_ingest(db_url, mqtt_broker, topic_root, client_id)
    pub = Publisher(mqtt_broker.mqtt)
    try:
        sender = threading.Thread(target=pub.publish, args=(messages,), kwargs={"rate": 3000})
        sender.start()
        wait_for(lambda: count(db_url, "camera_readings") > 1000, 60, "first rows")
        proc.signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = count(db_url, "camera_readings")
        proc = start_ingest(db_url, mqtt_broker, topic_root, client_id)
        sender.join(60)
        pub.wait_acked(len(messages), 60)
        wait_for(lambda: count(db_url, "camera_readings") == 6000, 90, "6000 rows")
    finally:
        pub.close()
        proc.signal(signal.SIGTERM)
        proc.wait(30)
    assert 1000 < killed_at < 6000, "the kill did not happen mid-stream"
    expected = Counter((f"cam-{i % 7}", BASE + timedelta(seconds=i), i % 97) for i in range(6000))
    stored = stored_camera(db_url)
    print_counts(
        f"ingest SIGKILLed at {killed_at} rows and restarted",
        len(messages),
        pub.acked,
        sum(stored.values()),
    )
    assert stored == expected


def test_sigterm_flushes_acks_and_exits_cleanly(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    client_id = f"term-{topic_root}"
    proc = start_ingest(db_url, mqtt_broker, topic_root, client_id)
    try:
        pub = Publisher(mqtt_broker.mqtt)
        pub.publish([camera_message(topic_root, "cam-1", i) for i in range(2000)])
        pub.wait_acked(2000, 30)
        pub.close()
        wait_for(lambda: count(db_url, "camera_readings") == 2000, 30, "2000 rows")
        started = time.monotonic()
        proc.signal(signal.SIGTERM)
        code = proc.wait(30)
        took = time.monotonic() - started
    finally:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.wait(10)
    assert code == 0, "".join(proc.log)
    assert took < 10
    # everything was acknowledged: a restart receives no redelivery
    proc = start_ingest(db_url, mqtt_broker, topic_root, client_id)
    try:
        time.sleep(3)
    finally:
        proc.signal(signal.SIGTERM)
        proc.wait(30)
    with __import__("citypulse.db").db.connect(db_url) as conn:
        duplicates = conn.execute(
            "SELECT coalesce(sum(duplicates), 0) FROM ingest_stats"
        ).fetchone()
    assert duplicates == (0,)


@pytest.mark.faults
@pytest.mark.parametrize(
    ("host", "reason"),
    [("127.0.0.1", "refused"), ("no-such-broker.invalid", "not known")],
    ids=["refused", "unresolvable"],
)
def test_an_unreachable_broker_is_logged_at_every_attempt(
    db_url: str, host: str, reason: str
) -> None:
    """Each failed connection attempt is a line with its reason and the next retry."""
    url = f"mqtt://{host}:{free_port()}"
    env = {
        **os.environ,
        "CITYPULSE_DATABASE_URL": db_url,
        "CITYPULSE_MQTT_URL": url,
        "CITYPULSE_LOG_LEVEL": "INFO",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "citypulse.cli", "ingest"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    attempts: list[str] = []
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "cannot connect to" in line:
                attempts.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: len(attempts) >= 3, 20, "three failed attempts in the log")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        reader.join(5)
        proc.stderr.close()  # type: ignore[union-attr]
    print("".join(attempts[:3]), end="")
    assert code == 0, "".join(lines)
    for line in attempts[:3]:
        assert url in line
        assert reason in line.lower()
        assert re.search(r"retrying in \d+ s at \d\d:\d\d:\d\d", line), line
    assert "WARNING" in attempts[0]
