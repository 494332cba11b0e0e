"""What each fault costs, end to end: acknowledged, stored, lost, duplicated, recovery.

A private PostgreSQL and Mosquitto (lab/_embedded.py, with the shipped broker's autosave
setting, or each --autosave given), ``citypulse ingest`` as real processes, a device
publishing QoS 1 at a steady rate; each fault on a database of its own:

- *dead member*: two workers on the shared subscription, one SIGKILLed mid-stream and
  never restarted; the survivor takes its session over after --takeover-after seconds;
- *database outage*: one worker, 50-reading messages, PostgreSQL stopped for --outage
  seconds mid-stream (200,000 readings arrive meanwhile), then started again;
- *broker SIGKILL*: one worker online, Mosquitto SIGKILLed mid-stream and restarted;
- *broker SIGKILL, backlog*: the same with the worker stopped, so that every message is
  queued for its session when the broker dies (as during a database outage).

*Acknowledged* counts the messages the broker PUBACKed to the device, *stored* those of
them whose readings are all in the database, *lost* the difference; *duplicated* is the
readings ingest received again after storing them (``ingest_stats.duplicates``: written
twice, kept once).  *Recovery*: for the dead member, from the kill until the last
acknowledged message is stored (the survivor waits --takeover-after first); for the
outage, from the database's return until then; for a broker SIGKILL, from the broker's
return until ingest has subscribed again (its reconnection delay); "never" if a message
was lost (the bench waits 60 to 300 s for it).

For the broker SIGKILLs, what the broker did from the first message until the kill: the
messages it acknowledged per second (below --rate when it cannot keep up), and per 1,000
of them the bytes it wrote (``write_bytes`` of /proc/<pid>/io) and its CPU seconds.  Each
save rewrites the whole persistence file, so with a backlog the cost grows with it; one
connection gets about one message acknowledged per save, so --devices spreads --rate over
several connections, as a city's devices are.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from citypulse import Settings, positive_float, positive_int
from lab._bench_broker import RestartableBroker, autosave_spec, shipped_autosave
from lab._ingest_process import IngestProcess
from lab._say import say

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from lab._embedded import EmbeddedPostgres

HELP = "fault table: a dead ingest worker, a long database outage, a SIGKILLed broker"
FAULTS = ("dead-member", "db-outage", "broker-kill", "broker-kill-backlog")
LABELS = {
    "dead-member": "dead member",
    "db-outage": "database outage",
    "broker-kill": "broker SIGKILL",
    "broker-kill-backlog": "broker SIGKILL, backlog",
}
PER_BATCH = 50  # readings per message in the database outage
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fault", choices=FAULTS, action="append", help="run only these (default: all)"
    )
    parser.add_argument(
        "--messages", type=positive_int, default=20_000, help="per fault (default 20,000)"
    )
    parser.add_argument(
        "--rate", type=positive_float, default=500.0, help="messages/s offered (default 500)"
    )
    parser.add_argument(
        "--outage", type=positive_float, default=120.0, help="database outage, s (default 120)"
    )
    parser.add_argument(
        "--outage-readings",
        type=positive_int,
        default=200_000,
        help="readings published while the database is away (default 200,000)",
    )
    parser.add_argument(
        "--devices",
        type=positive_int,
        default=1,
        help="device connections sharing --rate in the broker SIGKILLs (default 1)",
    )
    parser.add_argument(
        "--autosave",
        type=autosave_spec,
        action="append",
        help="the broker's autosave setting, 60s (every 60 s) or changes:N (after N changes); "
        "repeat to compare (default: the shipped one, deploy/mosquitto/mosquitto.conf)",
    )
    parser.add_argument(
        "--takeover-after",
        type=positive_float,
        default=45.0,
        help="ingest's --takeover-after for the dead member, s (default 45, as shipped)",
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """One fault's figures; the broker's cost is measured for the broker SIGKILLs only."""

    fault: str
    autosave: str
    acknowledged: int
    stored: int
    lost: int
    duplicated: int
    recovery_s: float
    cost: Cost | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    """What the broker did until it was killed."""

    acknowledged_per_s: float
    write_bytes_per_1000: float
    cpu_s_per_1000: float


def _ingest(db_url: str, mqtt_url: str, client_id: str, *extra: str) -> IngestProcess:
    return IngestProcess(db_url, mqtt_url, client_id, "--group", "bench", *extra)


class _Device:
    """QoS 1 publisher that remembers which messages the broker acknowledged."""

    def __init__(self, port: int, window: int = 200) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.acked: set[int] = set()
        self.sent = 0  # messages handed to paho: the next to publish after a crash
        self._sent: dict[int, int] = {}  # mid -> message index, until acknowledged
        self._early: set[int] = set()
        self._free = threading.Semaphore(window)
        self._lock = threading.Lock()
        self.client: mqtt.Client = mqtt.Client(
            CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, reconnect_on_failure=False
        )
        self.client.max_inflight_messages_set(window)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def _on_publish(self, c: object, u: object, mid: int, rc: object, p: object) -> None:
        with self._lock:  # never held around a paho call: paho calls this under its locks
            index = self._sent.pop(mid, None)
            if index is None:
                self._early.add(mid)  # acknowledged before publish() returned its mid
            else:
                self.acked.add(index)
        self._free.release()

    def publish(
        self,
        messages: Sequence[tuple[str, bytes]],
        start: int,
        rate: float,
        stop: threading.Event | None = None,
        step: int = 1,
    ) -> None:
        """Messages ``start``, ``start + step``.. in order at ``rate``/s, until ``stop`` is
        set."""
        began = time.monotonic()
        for n, i in enumerate(range(start, len(messages), step)):
            if stop is not None and stop.is_set():
                return
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            while not self._free.acquire(timeout=0.5):
                if stop is not None and stop.is_set():
                    return
            info = self.client.publish(*messages[i], qos=1)
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self.acked.add(i)
                else:
                    self._sent[info.mid] = i
            self.sent = i + step

    def wait(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _camera(n: int) -> list[tuple[str, bytes]]:
    return [
        (
            f"city/centr/camera/cam-{i % 20}/telemetry",
            json.dumps(
                {"time": (T0 + timedelta(seconds=i)).isoformat(), "lane_id": 1, "intensity": 7}
            ).encode(),
        )
        for i in range(n)
    ]


def _ecology(n: int) -> list[tuple[str, bytes]]:
    return [
        (
            f"city/centr/ecology/eco-{i % 20}/telemetry",
            json.dumps(
                [
                    {"time": (T0 + timedelta(seconds=i * PER_BATCH + j)).isoformat(), "pm25": 9.0}
                    for j in range(PER_BATCH)
                ]
            ).encode(),
        )
        for i in range(n)
    ]


def _stored(db_url: str, fault: str, n: int) -> set[int]:
    """The messages whose readings are all in the database."""
    from citypulse.db import connect

    table = "ecology_readings" if fault == "db-outage" else "camera_readings"
    with connect(db_url) as conn:
        seconds = [
            int((row[0] - T0).total_seconds())
            for row in conn.execute(f"SELECT time FROM {table}")  # noqa: S608 - a constant
        ]
    if fault != "db-outage":
        return {s for s in seconds if 0 <= s < n}
    per: dict[int, int] = {}
    for s in seconds:
        per[s // PER_BATCH] = per.get(s // PER_BATCH, 0) + 1
    return {i for i, k in per.items() if k == PER_BATCH and i < n}


def _duplicates(db_url: str) -> int:
    from citypulse.db import connect, scalar

    with connect(db_url) as conn:
        return int(scalar(conn, "SELECT coalesce(sum(duplicates), 0) FROM ingest_stats"))


def _settle(db_url: str, fault: str, n: int, acked: set[int], timeout: float) -> float:
    """Seconds until every acknowledged message is stored, or ``timeout`` passed."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if acked <= _stored(db_url, fault, n):
            break
        time.sleep(0.5)
    return time.monotonic() - started


def _outcome(
    broker: RestartableBroker,
    db_url: str,
    fault: str,
    n: int,
    acked: set[int],
    recovery: float,
    workers: list[IngestProcess],
    cost: Cost | None = None,
) -> Outcome:
    for w in workers:
        w.stop()  # SIGTERM: each writes its last counters
    stored = _stored(db_url, fault, n) & acked
    lost = len(acked - stored)
    duplicated = _duplicates(db_url)
    return Outcome(
        LABELS[fault], broker.setting, len(acked), len(stored), lost, duplicated, recovery, cost
    )


def _dead_member(
    pg: EmbeddedPostgres, broker: RestartableBroker, args: argparse.Namespace
) -> Outcome:
    db_url, n = _database(pg, "faults_dead_member"), args.messages
    messages = _camera(n)
    extra = ("--takeover-after", f"{args.takeover_after:g}")
    workers = [_ingest(db_url, broker.url, f"bench-ingest-{k}", *extra) for k in (1, 2)]
    device = _Device(broker.port)
    sender = threading.Thread(target=device.publish, args=(messages, 0, args.rate))
    sender.start()
    _until(lambda: len(device.acked) >= n // 3, 120)
    workers[0].stop(kill=True)
    killed = time.monotonic()
    say(f"    worker 1 SIGKILLed after {len(device.acked):,} acknowledged; not restarted")
    sender.join()
    device.wait(n, 60)
    device.close()
    _settle(db_url, "dead-member", n, device.acked, args.takeover_after + 300)
    recovery = time.monotonic() - killed
    return _outcome(broker, db_url, "dead-member", n, device.acked, recovery, workers[1:])


def _db_outage(
    pg: EmbeddedPostgres, broker: RestartableBroker, args: argparse.Namespace
) -> Outcome:
    db_url = _database(pg, "faults_db_outage")
    during = max(1, args.outage_readings // PER_BATCH)  # messages while it is away
    n = during + 400
    messages = _ecology(n)
    worker = _ingest(db_url, broker.url, "bench-ingest-outage", "--rate-limit", "0")
    device = _Device(broker.port)
    device.publish(messages[:200], 0, args.rate)
    _until(lambda: len(_stored(db_url, "db-outage", n)) >= 200, 60)
    pg.stop()
    stopped = time.monotonic()
    say(f"    PostgreSQL stopped for {args.outage:g} s; {during * PER_BATCH:,} readings arrive")
    device.publish(messages[: 200 + during], 200, during / (args.outage * 0.8))
    _until(lambda: time.monotonic() - stopped >= args.outage, args.outage + 5)
    pg.start()
    restarted = time.monotonic()
    device.publish(messages, 200 + during, args.rate)
    device.wait(n, 60)
    device.close()
    _settle(db_url, "db-outage", n, device.acked, 300)
    disconnects = sum("disconnected from the broker" in line for line in worker.log)
    say(f"    ingest lost its broker connection {disconnects} times")
    return _outcome(
        broker, db_url, "db-outage", n, device.acked, time.monotonic() - restarted, [worker]
    )


def _kill_mid_stream(
    broker: RestartableBroker, messages: Sequence[tuple[str, bytes]], rate: float, devices: int
) -> tuple[set[int], int, Cost]:
    """Publish at ``rate`` over ``devices`` connections, and SIGKILL the broker once half
    the messages are acknowledged; the messages acknowledged, the first not yet sent (by
    every connection), and the broker's cost until then."""
    clients = [_Device(broker.port) for _ in range(devices)]
    stop = threading.Event()
    written, cpu, started = broker.written(), broker.cpu_seconds(), time.monotonic()
    senders = [
        threading.Thread(target=d.publish, args=(messages, k, rate / devices, stop, devices))
        for k, d in enumerate(clients)
    ]
    for sender in senders:
        sender.start()
    # A broker that saves after every change may take minutes for it: it is measured, and
    # the timeout only catches one that hangs.
    half, timeout = len(messages) // 2, 60 + 0.1 * len(messages)
    _until(lambda: sum(len(d.acked) for d in clients) >= half, timeout)
    seconds = time.monotonic() - started
    written, cpu = broker.written() - written, broker.cpu_seconds() - cpu
    broker.sigkill()
    stop.set()
    for sender in senders:
        sender.join()
    for d in clients:
        d.client.loop_stop()
    acked: set[int] = set().union(*(d.acked for d in clients))
    per = 1000 / max(1, len(acked))
    cost = Cost(len(acked) / seconds, written * per, cpu * per)
    return acked, min(d.sent for d in clients), cost


def _broker_kill(
    pg: EmbeddedPostgres, broker: RestartableBroker, args: argparse.Namespace
) -> Outcome:
    db_url, n = _database(pg, "faults_broker_kill"), args.messages
    messages = _camera(n)
    worker = _ingest(db_url, broker.url, "bench-ingest-crash")
    acked, resume, cost = _kill_mid_stream(broker, messages, args.rate, args.devices)
    say(f"    Mosquitto SIGKILLed after {len(acked):,} acknowledged ({broker.setting})")
    broker.run_with(broker.setting)
    restarted = time.monotonic()
    # Mosquitto 2.0.11 does not save shared subscriptions: until ingest has subscribed
    # again, what devices publish is dropped (docs/deploy.md); that is not what this
    # measures, so the device waits for it.
    _until(lambda: sum("subscribed:" in line for line in worker.log) >= 2, 60)
    recovery = time.monotonic() - restarted
    device = _Device(broker.port)
    device.publish(messages, resume, args.rate)
    device.wait(n - resume, 60)
    device.close()
    acked |= device.acked
    _settle(db_url, "broker-kill", n, acked, 120)
    return _outcome(broker, db_url, "broker-kill", n, acked, recovery, [worker], cost)


def _broker_kill_backlog(
    pg: EmbeddedPostgres, broker: RestartableBroker, args: argparse.Namespace
) -> Outcome:
    db_url, n = _database(pg, "faults_broker_backlog"), args.messages
    messages = _camera(n)
    client_id = "bench-ingest-away"
    _ingest(db_url, broker.url, client_id).stop()  # the last member: its session stays
    acked, _, cost = _kill_mid_stream(broker, messages, args.rate, args.devices)
    say(
        f"    Mosquitto SIGKILLed with {len(acked):,} acknowledged and queued for ingest "
        f"({broker.setting})"
    )
    broker.run_with(broker.setting)
    restarted = time.monotonic()
    worker = _ingest(db_url, broker.url, client_id)
    _settle(db_url, "broker-kill-backlog", n, acked, 60)
    recovery = time.monotonic() - restarted
    return _outcome(broker, db_url, "broker-kill-backlog", n, acked, recovery, [worker], cost)


def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s")
        time.sleep(0.1)


def _database(pg: EmbeddedPostgres, name: str) -> str:
    from citypulse.db import connect, migrate

    with connect(pg.database_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = pg.database_url(name)
    with connect(url, autocommit=True) as conn:
        migrate(conn, mode="plain")
    return url


RUNS = {
    "dead-member": _dead_member,
    "db-outage": _db_outage,
    "broker-kill": _broker_kill,
    "broker-kill-backlog": _broker_kill_backlog,
}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from lab._embedded import EmbeddedPostgres

    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="citypulse-bench-faults-") as tmp:
        Path(tmp).chmod(0o755)
        say("starting a private PostgreSQL and Mosquitto ...")
        pg = EmbeddedPostgres(Path(tmp) / "pg").start()
        try:
            for setting in args.autosave or [shipped_autosave()]:
                for fault in args.fault or FAULTS:
                    say(f"{fault}, autosave {setting} ...")
                    broker = RestartableBroker(Path(tmp) / f"{fault}-{setting}")
                    broker.directory.mkdir()
                    broker.run_with(setting)
                    try:
                        outcomes.append(RUNS[fault](pg, broker, args))
                    finally:
                        broker.stop()
        finally:
            pg.stop()
    _print(outcomes)
    return 0


def _print(outcomes: list[Outcome]) -> None:
    print(
        f"{'fault':<25}{'autosave':>11}{'acknowledged':>13}{'stored':>9}{'lost':>7}"
        f"{'duplicated':>12}{'recovery':>11}{'acked/s':>9}{'MB/1000':>9}{'CPU s/1000':>12}"
    )
    for o in outcomes:
        recovery = f"{o.recovery_s:.1f} s" if not o.lost else "never"
        cost = (
            f"{o.cost.acknowledged_per_s:>9,.0f}{o.cost.write_bytes_per_1000 / 1e6:>9,.1f}"
            f"{o.cost.cpu_s_per_1000:>12.2f}"
            if o.cost
            else ""
        )
        print(
            f"{o.fault:<25}{o.autosave:>11}{o.acknowledged:>13,}{o.stored:>9,}{o.lost:>7,}"
            f"{o.duplicated:>12,}{recovery:>11}{cost}"
        )
    print(json.dumps([asdict(o) for o in outcomes]))
