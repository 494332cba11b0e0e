"""Publishing on a real broker: subscribers receive exactly what the generator made."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citypulse.cli import main
from citypulse.db import connect, load_devices
from simulator import (
    WILL_PAYLOAD,
    FaultType,
    Message,
    Progress,
    Simulation,
    batched,
    faults_from_spec,
    gateway_will,
    generated_city,
    publish,
)
from tests.fix_mqtt import Broker
from tests.simulator._publish import publish_to

START = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
CITY = generated_city(1, seed=2)  # 8 devices: a crossing, 4 cameras, 2 lots, 1 station


class _Collector:
    """A subscriber on ``{root}/#`` that records what arrives."""

    def __init__(self, broker: Broker, root: str) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{root}/#", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.mqtt.host, broker.mqtt.port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received.append((msg.topic, bytes(msg.payload)))

    def wait_for(self, count: int, timeout: float = 30.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    break
            time.sleep(0.05)
        time.sleep(0.3)  # anything beyond the expected count would show up now
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _simulation(root: str) -> Simulation:
    end = START + timedelta(hours=1)
    faults = faults_from_spec(
        {
            "faults": [
                {"type": "power_loss", "device": "cam-r000c000-e", "at": "10m", "duration": "15m"},
                {"type": "power_loss", "device": "tl-r000c000", "at": "20m", "duration": "10m"},
                {
                    "type": "malformed_payload",
                    "device": "cam-r000c000-n",
                    "at": "5m",
                    "duration": "5m",
                },
            ]
        },
        CITY,
        start=START,
        end=end,
    )
    return Simulation(CITY, start=START, end=end, seed=4, faults=faults, topic_root=root)


def test_device_mode_delivers_exactly_what_was_generated(
    mqtt_broker: Broker, topic_root: str
) -> None:
    sim = _simulation(topic_root)
    expected = list(sim.messages())
    wills = [m for m in expected if m.last_will]
    assert len(wills) == 2
    collector = _Collector(mqtt_broker, topic_root)
    try:
        report = publish_to(mqtt_broker, sim, topic_root, mode="device", max_inflight=50)
        received = collector.wait_for(len(expected))
    finally:
        collector.close()
    assert report.wills == 2
    assert report.messages == len(expected) - 2  # the broker, not the simulator, sent the wills
    assert report.connections == len(sim.devices)
    assert Counter(received) == Counter((m.topic, m.payload) for m in expected)
    # The wills really came from the broker when the connections dropped.
    will_topics = [t for t, p in received if p == WILL_PAYLOAD]
    assert sorted(will_topics) == sorted(m.topic for m in wills)


@pytest.mark.parametrize("client", ["paho", "lean"])
def test_gateway_mode_with_batches_and_a_fixed_rate(
    mqtt_broker: Broker, topic_root: str, client: Literal["paho", "lean"]
) -> None:
    sim = _simulation(topic_root)
    expected = list(batched(sim.messages(), 120.0))
    assert any(m.payload.startswith(b"[{") and m.payload.count(b'"time"') > 2 for m in expected)
    collector = _Collector(mqtt_broker, topic_root)
    rate = 2000.0
    try:
        report = publish(
            batched(sim.messages(), 120.0),
            mqtt_url=mqtt_broker.mqtt,
            devices=sim.devices,
            topic_root=topic_root,
            mode="gateway",
            gateways=2,
            rate=rate,
            client_prefix=topic_root,
            client=client,
        )
        received = collector.wait_for(len(expected))
    finally:
        collector.close()
    assert report.wills == 0
    assert report.messages == len(expected)
    # A power loss goes out as the device's offline status, stamped with when it went dark.
    wills = [m for m in expected if m.last_will]
    assert len(wills) == 2
    sent = [(m.topic, gateway_will(m.t) if m.last_will else m.payload) for m in expected]
    assert Counter(received) == Counter(sent)
    for m in wills:
        assert orjson.loads(gateway_will(m.t)) == {
            "online": False,
            "reason": "last_will",
            "time": datetime.fromtimestamp(m.t, UTC).isoformat(timespec="milliseconds"),
        }
    assert report.wall_s >= (len(expected) - 1) / rate * 0.95  # paced, not flooded


def test_simulate_command_registers_devices_and_publishes(
    db_url: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    truth = tmp_path / "truth.jsonl"
    collector = _Collector(mqtt_broker, topic_root)
    try:
        code = main(
            [
                "--database-url", db_url, "--mqtt-url", mqtt_broker.url,
                "simulate", "--intersections", "1", "--seed", "2", "--duration", "30m",
                "--speed", "max", "--topic-root", topic_root, "--random-faults", "200",
                "--ground-truth", str(truth), "--quiet",
            ]
        )  # fmt: skip
        received = collector.wait_for(10_000, timeout=3.0)
    finally:
        collector.close()
    assert code == 0
    with connect(db_url) as conn:
        devices = load_devices(conn)
    assert set(devices) == {d.id for d in CITY.devices()}
    assert devices["tl-r000c000"].intersection == "r000c000"
    assert len(received) > 100
    assert truth.read_text().count("\n") >= 1
    # The default start makes a fast run end near now, never in the future.
    latest = max(
        datetime.fromisoformat(p.decode().split('"time":"')[1].split('"')[0])
        for t, p in received
        if b'"time":"' in p
    )
    assert latest <= datetime.now(UTC) + timedelta(minutes=5)


def test_inflight_is_bounded(mqtt_broker: Broker, topic_root: str) -> None:
    sim = Simulation(
        CITY, start=START, end=START + timedelta(minutes=30), seed=1, topic_root=topic_root
    )
    seen: list[int] = []
    report = publish_to(
        mqtt_broker,
        sim,
        topic_root,
        mode="gateway",
        gateways=1,
        max_inflight=3,
        progress=lambda p: seen.append(p.inflight),
        progress_every_s=0.0,
    )
    assert report.messages == sum(1 for _ in sim.messages())
    assert seen
    assert max(seen) <= 3
    with pytest.raises(ValueError, match="16-bit"):
        publish([], mqtt_url=mqtt_broker.mqtt, devices=[], max_inflight=70_000)


def test_messages_types() -> None:
    m = Message(0.0, "city/x/camera/c/telemetry", b"{}", False, "c")
    assert m.time == datetime(1970, 1, 1, tzinfo=UTC)
    assert FaultType.POWER_LOSS.incident_type == "device_offline"


@pytest.mark.parametrize("prerender", [False, True])
def test_worker_processes_publish_exactly_the_single_process_stream(
    mqtt_broker: Broker, topic_root: str, prerender: bool
) -> None:
    """Rendering first, the workers publish only once all are ready, and the same."""
    from simulator import RunSpec, publish_parallel

    spec = RunSpec(CITY, START, START + timedelta(minutes=30), seed=9, topic_root=topic_root)
    expected = list(spec.simulation().messages())
    collector = _Collector(mqtt_broker, topic_root)
    at_start: list[tuple[list[str], int]] = []
    events: list[tuple[str, float]] = []  # on_start and progress, in their order

    def on_start() -> None:
        workers = sorted(p.name for p in multiprocessing.active_children())
        time.sleep(0.3)  # a worker publishing early would show up now
        with collector.lock:
            at_start.append((workers, len(collector.received)))
        events.append(("start", time.monotonic()))

    def progress(p: Progress) -> None:
        events.append(("progress", p.wall_s))

    try:
        report = publish_parallel(
            spec,
            mqtt_url=mqtt_broker.mqtt,
            workers=2,
            mode="device",
            client_prefix=topic_root,
            prerender=prerender,
            on_start=on_start,
            progress=progress,
            progress_every_s=0.02,
        )
        received = collector.wait_for(len(expected))
    finally:
        collector.close()
    rendered = ["citypulse-sim-0", "citypulse-sim-1"] if prerender else []
    assert at_start == [(rendered, 0)]  # once, before anything was published
    # progress is publishing's: none while the workers render
    assert [kind for kind, _ in events][:2] == ["start", "progress"]
    assert report.messages == len(expected)
    assert Counter(received) == Counter((m.topic, m.payload) for m in expected)
