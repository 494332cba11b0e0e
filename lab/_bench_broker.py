"""Measure what a SIGKILLed Mosquitto loses, and what saving more often costs it.

For the shipped setting (``autosave_interval 60``) and the durable one (``autosave_on_changes
true`` with ``autosave_interval 1``: save after every change), in the same run, on the
machine's Mosquitto with the demo's config (lab/_embedded.py) and only the autosave lines
swapped:

- *online*: a persistent subscriber (ingest) connected and acknowledging; a device
  publishes --messages QoS 1 messages, at most --window unacknowledged;
- *away*: the same with the subscriber gone, so every message is queued for its session;
  then another --messages, and the broker is SIGKILLed when half of them are
  acknowledged (mid-stream), restarted, and the subscriber counts what it gets back.

Per case: messages/s the broker acknowledged, and the bytes it wrote
(``write_bytes`` of /proc/<pid>/io) per 1,000 messages.  A save rewrites the whole
persistence file, so in *away* its cost grows with the backlog (try --messages 10000).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from citypulse import Settings, positive_int
from lab._embedded import (
    MOSQUITTO_CONF,
    EmbeddedError,
    EmbeddedMosquitto,
    free_port,
    mosquitto_binary,
    wait_for_port,
)
from lab._say import say

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

HELP = "measure what a SIGKILLed broker loses, and what saving at every change costs"
#: The cases: a label, and the setting as ``--autosave`` takes it (:func:`autosave_lines`).
SETTINGS = {"autosave_interval 60": "60s", "autosave_on_changes 1": "changes:1"}
SHIPPED_CONF = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "mosquitto.conf"
TOPIC = "city/bench/camera/cam-1/telemetry"
INGEST_ID = "bench-ingest"
PAYLOAD = json.dumps({"ts": "2026-01-01T00:00:00Z", "vehicles": 12, "pad": "x" * 160})


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=positive_int, default=2000, help="per case (2000)")
    parser.add_argument("--window", type=positive_int, default=100, help="unacked at most (100)")


@dataclass(frozen=True, slots=True)
class Case:
    """One setting in one situation."""

    setting: str
    ingest: str
    messages_per_s: float
    write_bytes_per_1000: float


@dataclass(frozen=True, slots=True)
class Crash:
    """A SIGKILL mid-stream with ingest away: messages acknowledged, and how many came back."""

    setting: str
    acknowledged: int
    stored: int
    lost: int


def autosave_lines(spec: str) -> str:
    """Mosquitto's lines for an autosave setting: ``60s`` saves every 60 seconds,
    ``changes:1`` after every change (a message queued, a subscription, a session)."""
    seconds = re.fullmatch(r"([1-9][0-9]*)s", spec)
    if seconds:
        return f"autosave_interval {seconds[1]}\n"
    changes = re.fullmatch(r"changes:([1-9][0-9]*)", spec)
    if changes:
        return f"autosave_on_changes true\nautosave_interval {changes[1]}\n"
    raise ValueError(f"not an autosave setting (60s, changes:1): {spec!r}")


def autosave_spec(text: str) -> str:
    """An autosave setting argument, checked: ``60s`` or ``changes:N``."""
    try:
        autosave_lines(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def shipped_autosave(conf: Path = SHIPPED_CONF) -> str:
    """The shipped broker's autosave setting (deploy/mosquitto/mosquitto.conf), as a spec."""
    lines = dict(
        line.split(None, 1)
        for line in conf.read_text().splitlines()
        if line.startswith(("autosave_interval ", "autosave_on_changes "))
    )
    interval = lines["autosave_interval"].strip()
    on_changes = lines.get("autosave_on_changes", "false").strip() == "true"
    return f"changes:{interval}" if on_changes else f"{interval}s"


class RestartableBroker(EmbeddedMosquitto):
    """The demo's broker with one autosave setting (:func:`autosave_lines`), restartable on
    the same port."""

    setting = ""

    def run_with(self, setting: str) -> None:
        user = pwd.getpwuid(os.geteuid()).pw_name
        self.port = self.port or free_port()
        text = MOSQUITTO_CONF.format(port=self.port, dir=self.directory, user=user)
        demo = "autosave_interval 5\n"  # the demo broker's own setting, swapped for each case
        assert demo in text, "lab/_embedded.py's autosave line changed"
        conf = self.directory / "mosquitto.conf"
        conf.write_text(text.replace(demo, autosave_lines(setting)))
        binary = mosquitto_binary()
        if binary is None:
            raise EmbeddedError("mosquitto is not installed (apt-get install mosquitto)")
        self.proc = subprocess.Popen(  # noqa: S603 - the machine's mosquitto, our config
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        self.setting = setting

    def sigkill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def written(self) -> int:
        """Bytes the broker process has caused to be written to storage so far."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
        raise RuntimeError("no write_bytes in /proc/<pid>/io")

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the broker process has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client(port: int, client_id: str, *, session: bool) -> mqtt.Client:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
    )  # fmt: skip
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if session:
        props.SessionExpiryInterval = 3600
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", port, keepalive=30, clean_start=not session, properties=props)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError("no CONNACK")
    return client


class _Subscriber:
    """ingest's persistent session: records the payloads it receives."""

    def __init__(self, port: int) -> None:
        self.received: set[bytes] = set()
        self.client = _client(port, INGEST_ID, session=True)
        self.client.on_message = lambda c, u, m: self.received.add(bytes(m.payload))
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(TOPIC, qos=1)
        if not done.wait(10):
            raise RuntimeError("no SUBACK")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class _Publisher:
    """A device publishing QoS 1 with at most ``window`` messages unacknowledged."""

    def __init__(self, port: int, window: int) -> None:
        self.acked: list[bytes] = []
        self._sent: dict[int, bytes] = {}
        self._free = threading.Semaphore(window)
        self.client = _client(port, "bench-cam-1", session=False)
        self.client.on_publish = self._on_publish

    def _on_publish(self, c: object, u: object, mid: int, rc: object, p: object) -> None:
        self.acked.append(self._sent.pop(mid))
        self._free.release()

    def publish(self, count: int, start: int, *, stop_at: int | None = None) -> None:
        """Publish ``count`` messages; return when all are acknowledged, or as soon as
        ``stop_at`` of them are (the rest still in flight)."""
        target = len(self.acked) + (stop_at if stop_at is not None else count)
        for i in range(start, start + count):
            if len(self.acked) >= target:
                return
            self._free.acquire()
            payload = f"{i} {PAYLOAD}".encode()
            info = self.client.publish(TOPIC, payload, qos=1)
            self._sent[info.mid] = payload
        while len(self.acked) < target:
            time.sleep(0.001)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait_for(sub: _Subscriber, expected: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(sub.received) < expected and time.monotonic() < deadline:
        time.sleep(0.01)


def _timed(
    broker: RestartableBroker, pub: _Publisher, count: int, start: int
) -> tuple[float, float]:
    before, started = broker.written(), time.perf_counter()
    pub.publish(count, start)
    seconds = time.perf_counter() - started
    return count / seconds, (broker.written() - before) * 1000 / count


def measure(label: str, setting: str, messages: int, window: int) -> tuple[list[Case], Crash]:
    """Both situations and the crash for one autosave setting, on a broker of its own."""
    with tempfile.TemporaryDirectory(prefix="citypulse-bench-broker-") as tmp:
        broker = RestartableBroker(Path(tmp))
        broker.run_with(setting)
        try:
            sub = _Subscriber(broker.port)
            pub = _Publisher(broker.port, window)
            rate, written = _timed(broker, pub, messages, 0)
            cases = [Case(label, "online", rate, written)]
            _wait_for(sub, messages)
            sub.close()
            rate, written = _timed(broker, pub, messages, messages)
            cases.append(Case(label, "away", rate, written))
            pub.publish(messages, 2 * messages, stop_at=messages // 2)
            acked = list(pub.acked[messages:])  # what the broker took while ingest was away
            broker.sigkill()
            broker.run_with(setting)
            sub = _Subscriber(broker.port)
            _wait_for(sub, len(acked), timeout=5)
            stored = sum(1 for p in acked if p in sub.received)
            sub.close()
            return cases, Crash(label, len(acked), stored, len(acked) - stored)
        finally:
            broker.stop()


def run(args: argparse.Namespace, settings: Settings) -> int:
    cases: list[Case] = []
    crashes: list[Crash] = []
    for label, setting in SETTINGS.items():
        say(f"{label}: {args.messages} messages online, {args.messages} away, then SIGKILL")
        more, crash = measure(label, setting, args.messages, args.window)
        cases += more
        crashes.append(crash)
    print(f"{'setting':<24}{'ingest':<8}{'messages/s':>12}{'bytes/1000 msgs':>18}")
    for c in cases:
        print(
            f"{c.setting:<24}{c.ingest:<8}{c.messages_per_s:>12,.0f}"
            f"{c.write_bytes_per_1000:>18,.0f}"
        )
    print(f"\n{'SIGKILL, ingest away':<24}{'acknowledged':>14}{'stored':>8}{'lost':>6}")
    for k in crashes:
        print(f"{k.setting:<24}{k.acknowledged:>14}{k.stored:>8}{k.lost:>6}")
    print(
        json.dumps({"cases": [asdict(c) for c in cases], "crashes": [asdict(k) for k in crashes]})
    )
    return 0
