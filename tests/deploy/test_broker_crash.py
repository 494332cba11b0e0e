"""A broker SIGKILLed with a backlog queued for ingest keeps every message it acknowledged,
with the shipped autosave setting (deploy/mosquitto/mosquitto.conf) and real
``citypulse ingest`` processes.

The tests' broker config with its autosave lines replaced by the shipped ones: the rest of
the shipped config (logins, TLS) is tested in test_mosquitto.py.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from lab._bench_broker import autosave_lines, shipped_autosave
from tests._mqtt import print_counts, publish_all, wait_for
from tests._procs import find_binary, free_port
from tests.fix_mqtt import BROKER_CONF, Broker
from tests.ingest.test_process import start_ingest
from tests.ingest.test_worker import camera_message, count

#: MQTT 3.1.1 CONNECT: clean session, keepalive 30 s, an id the broker assigns.
CONNECT = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x1e\x00\x00"


def _broker(directory: Path) -> Broker:
    binary = find_binary("mosquitto", ["/usr/sbin", "/usr/local/sbin"])
    assert binary is not None, "mosquitto is not installed"
    port = free_port()
    ours = "autosave_interval 1\n"
    text = BROKER_CONF.format(port=port, dir=directory)
    assert ours in text
    conf = directory / "mosquitto.conf"
    conf.write_text(text.replace(ours, autosave_lines(shipped_autosave())))
    broker = Broker(f"mqtt://127.0.0.1:{port}", owned=True, port=port, conf=conf, binary=binary)
    broker.start()
    return broker


def _next_turn(port: int) -> None:
    """Wait for a CONNACK: the broker answers a connection opened now in a later turn of
    its single-threaded loop than the PUBACKs already received, so the save that ends
    their turn is done.  (A SIGKILL within that turn loses them: docs/deploy.md.)"""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(CONNECT)
        assert sock.recv(4) == b"\x20\x02\x00\x00"


@pytest.mark.faults
def test_a_broker_killed_with_a_backlog_for_ingest_keeps_what_it_acknowledged(
    db_url: str, tmp_path: Path, topic_root: str
) -> None:
    n = 300
    broker = _broker(tmp_path)
    try:
        client_id = f"ingest-{topic_root}"
        # ingest subscribes and stops (the last member: its session stays); the broker
        # queues for its session, as during a database outage.
        start_ingest(db_url, broker, topic_root, client_id).stop()
        messages = [camera_message(topic_root, f"cam-{i % 5}", i) for i in range(n)]
        acknowledged = publish_all(broker.mqtt, messages)
        _next_turn(broker.port)
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGKILL)
        broker.proc.wait(30)
        broker.start()
        worker = start_ingest(db_url, broker, topic_root, client_id)
        try:
            wait_for(lambda: count(db_url, "camera_readings") >= n, 30, f"{n} rows")
        except TimeoutError:
            pass  # counted below
        finally:
            worker.stop()
        stored = count(db_url, "camera_readings")
        print_counts("broker SIGKILL with a backlog", n, acknowledged, stored)
        assert (acknowledged, stored) == (n, n)
    finally:
        if broker.proc is not None and broker.proc.poll() is None:
            broker.stop()
