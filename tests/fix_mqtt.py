"""Mosquitto fixtures: a real broker on a free port, or ``CITYPULSE_TEST_MQTT_URL``.

The private broker keeps persistent sessions on disk and queues without the default
1,000-message cap, so restart and backlog tests behave like production.  Each test gets
its own topic root so tests never see each other's traffic.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from citypulse import CitypulseError, MqttUrl
from tests._procs import find_binary, free_port, wait_for_port

BROKER_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {dir}/
autosave_interval 1
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
max_packet_size 1048576
set_tcp_nodelay true
user root
log_dest file {dir}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


@dataclass
class Broker:
    url: str
    owned: bool
    port: int = 0
    conf: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    binary: str = ""

    @property
    def mqtt(self) -> MqttUrl:
        return MqttUrl.parse(self.url)

    def start(self) -> None:
        assert self.owned
        assert self.conf is not None
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        assert self.owned
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)  # saves the persistence file
        self.proc.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()


def start_broker(directory: Path, extra_conf: str = "") -> Broker:
    binary = find_binary("mosquitto", ["/usr/sbin", "/usr/local/sbin"])
    if binary is None:
        raise RuntimeError("mosquitto is not installed")
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(BROKER_CONF.format(port=port, dir=directory) + extra_conf)
    broker = Broker(url=f"mqtt://127.0.0.1:{port}", owned=True, port=port, conf=conf, binary=binary)
    broker.start()
    return broker


@contextlib.contextmanager
def _stopped_after(broker: Broker) -> Iterator[Broker]:
    """Yield ``broker`` and stop it afterwards unless a test already has."""
    try:
        yield broker
    finally:
        if broker.proc and broker.proc.poll() is None:
            broker.stop()


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[Broker]:
    url = os.environ.get("CITYPULSE_TEST_MQTT_URL")
    if url:
        yield Broker(url=url, owned=False)
        return
    with tempfile.TemporaryDirectory(prefix="citypulse-mqtt-") as tmp:
        try:
            broker = start_broker(Path(tmp))
        except (RuntimeError, CitypulseError, OSError, TimeoutError) as exc:
            if os.environ.get("CI"):
                pytest.fail(f"cannot start Mosquitto for the tests: {exc}")
            pytest.skip(f"cannot start Mosquitto for the tests: {exc}")
        with _stopped_after(broker):
            yield broker


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test's own, for tests that stop or restart it."""
    with _stopped_after(start_broker(tmp_path)) as broker:
        yield broker


@pytest.fixture
def topic_root() -> str:
    """A topic root unique to this test (replaces ``city`` in every topic)."""
    return f"t{uuid.uuid4().hex[:10]}"
