"""Measure ingest on a broker backlog, against a ceiling and a naive baseline, in one run.

Starts a private PostgreSQL and Mosquitto (raised max_queued_messages), then for the same
backlog of single-reading QoS 1 messages prints:
  (a) the ceiling: a bare paho subscriber that only counts;
  (a') the same through ingest's own reader (:class:`ingest._mqtt.FastClient`), which is
       faster than stock paho, so (b) can pass (a): this is the ceiling of our stack;
  (b) citypulse ingest: rows committed per second;
  (c) the naive baseline: one INSERT per message (autocommit);
then (d) publish-to-commit latency p50/p99 at a fixed offered rate (the publisher runs in
a process of its own, so it can offer the rate), and (e) the drain rate with 50-reading
batch payloads, and (e') what PostgreSQL alone takes of those rows when two connections
COPY them already decoded (the share of (e) that the database, not ingest, sets on a
machine where both share the same cores).  (a), (b) and (a') alternate for a few rounds,
and so do (e) and (e'); the best of each counts: on a shared machine other load lowers
single runs (the COPY ceiling alone ranged from 165,000 to 259,000 rows/s between two
runs of an hour apart), and alternating exposes a figure and its ceiling to it alike.
Each phase and round writes readings of its own span of time, and starts after a
CHECKPOINT, so that none pays for a checkpoint that the phases before it made due.
For (b), (a'), (e) and (e') it also prints where the CPU went, per message or reading:
this process (ingest, the reader, the COPY client), PostgreSQL's processes, Mosquitto,
and the whole machine; from (b)'s, the rate at which ingest, PostgreSQL and Mosquitto
together would keep every core busy (no ratio to a ceiling can pass what that allows).
Targets: (b) >= 0.6 x (a) and >= 10 x (c); (d) p99 <= 250 ms at 5,000 msg/s; (e) >=
150,000 readings/s.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from citypulse import MqttUrl, Settings, positive_float, positive_int
from lab._say import say

HELP = "measure ingest throughput and latency"
_DEVICES = 1000
_LATENCY_BATCH_AGE = 0.025  # s; the CLI default (0.1) trades latency for larger batches
_STALL = 60.0  # s without a stored reading after which a drain phase gives up


class _Spent:
    """CPU seconds spent while the timed part of a phase runs, per part of the machine:
    this process alone (ingest's worker, or the reader being measured; not the broker,
    which it started), PostgreSQL (the postmaster and its backends), Mosquitto, and the
    machine as a whole (every core, anything else running included), summed over the
    phase's rounds with the messages or readings they handled.  ``pids`` names the
    processes watched beside this one (with their children)."""

    def __init__(self, own: str, pids: Mapping[str, int]) -> None:
        self.own = own
        self.pids = dict(pids)
        self.cpu: dict[str, float] = {}
        self.wall = 0.0
        self.units = 0

    def _now(self) -> dict[str, float]:
        from lab._soak_procs import cpu_s, machine_s

        now = {self.own: time.process_time()}  # every thread of this process, no children
        now.update((name, cpu_s(pid)) for name, pid in self.pids.items())
        now["machine"] = machine_s()[0]
        return now

    @contextmanager
    def phase(self, units: int) -> Iterator[None]:
        before, started = self._now(), time.monotonic()
        yield
        wall, after = time.monotonic() - started, self._now()
        self.wall += wall
        self.units += units
        for name, value in after.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + value - before[name]

    def per_unit_us(self) -> dict[str, float]:
        """Microseconds of CPU per message or reading, per part; ``cores``: how many of
        the machine's cores were busy on average."""
        units = max(self.units, 1)
        cpu = self.cpu
        names = [self.own, *self.pids, "machine"]
        out = {name: round(cpu.get(name, 0.0) / units * 1e6, 2) for name in names}
        out["cores"] = round(cpu.get("machine", 0.0) / self.wall, 2) if self.wall else 0.0
        return out


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--messages",
        type=positive_int,
        default=None,
        help="backlog size (default 200,000; 20,000 with --quick)",
    )
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=5000.0,
        help="offered rate for the latency phase, msg/s (default 5000)",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=None,
        help="(a) and (b) alternate this many times; the best of each counts, so that "
        "other load on the machine hurts the ratio less (default 3; 2 with --quick)",
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=None,
        help="latency phase length (default 10 s; 4 s with --quick)",
    )


def _rounds(rates: list[float]) -> str:
    """A figure's rounds, for the printed table."""
    return f"  (rounds: {', '.join(f'{r:,.0f}' for r in rates)})"


def _processes(us: Mapping[str, float]) -> dict[str, float]:
    """The watched processes' share of :meth:`_Spent.per_unit_us`, without the whole
    machine's and its busy cores."""
    return {k: v for k, v in us.items() if k not in ("machine", "cores")}


def _parts(us: Mapping[str, float]) -> str:
    """``ingest 5.1 µs + postgres 2.2 µs + mosquitto 1.8 µs = 9.1 µs (machine 9.5 µs,
    1.9 cores busy)``."""
    parts = _processes(us)
    text = " + ".join(f"{k} {v:.2f} µs" for k, v in parts.items())
    return (
        f"{text} = {sum(parts.values()):.2f} µs (whole machine {us['machine']:.2f} µs,"
        f" {us['cores']:.2f} cores busy)"
    )


def _single(root: str, n: int, base: datetime) -> Iterator[tuple[str, bytes]]:
    import orjson

    base_ms = int(base.timestamp() * 1000)
    for i in range(n):
        device = f"cam-{i % _DEVICES}"
        yield (
            f"{root}/centr/camera/{device}/telemetry",
            orjson.dumps(
                {
                    "time": base_ms + (i // _DEVICES) * 1000,
                    "lane_id": 1,
                    "intensity": i % 40,
                    "average_vehicle_speed": 42.5,
                    "occupancy": 0.25,
                }
            ),
        )


def _batches(root: str, n_messages: int, base: datetime) -> Iterator[tuple[str, bytes]]:
    import orjson

    base_ms = int(base.timestamp() * 1000)
    for i in range(n_messages):
        device = f"cam-{i % _DEVICES}"
        start = base_ms + (i // _DEVICES) * 50_000
        yield (
            f"{root}/centr/camera/{device}/telemetry",
            orjson.dumps(
                [
                    {"time": start + j * 1000, "lane_id": 1, "intensity": j, "occupancy": 0.1}
                    for j in range(50)
                ]
            ),
        )


def _publish_backlog(url: MqttUrl, messages: Iterator[tuple[str, bytes]], n: int) -> float:
    from lab._publish import BoundedPublisher

    started = time.monotonic()
    with BoundedPublisher(url, max_inflight=200) as pub:
        pub.publish(messages)
        pub.wait_acked(n, timeout=600)
    return time.monotonic() - started


def _connect(client: Any, url: MqttUrl) -> None:
    """CONNECT with a persistent session and a Receive Maximum of 20,000, then loop."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20000
    client.connect(url.host, url.port, clean_start=False, properties=props)
    client.loop_start()


def _session(
    url: MqttUrl, client_id: str, topic: str, on_message: Any = None, *, subscribe: bool = False
) -> Any:
    """A persistent-session MQTT 5 client; with ``subscribe``, returns once SUBACK is in."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    subscribed = threading.Event()
    if subscribe:
        client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        client.on_subscribe = lambda c, u, m, r, p: subscribed.set()
    _connect(client, url)
    if subscribe and not subscribed.wait(30):
        raise TimeoutError(f"{client_id} did not subscribe")
    return client


def _ceiling(
    url: MqttUrl,
    n: int,
    root: str,
    base: datetime,
    *,
    fast: bool = False,
    spent: _Spent | None = None,
) -> float:
    """(a): drain a backlog with a stock paho subscriber that only counts; (a') with
    ``fast``, through ingest's own reader (FastClient, a list of messages per read, as
    ingest takes them), acknowledging in runs of 1,000 as ingest acknowledges its
    batches."""
    import paho.mqtt.client as mqtt

    from ingest._mqtt import FastClient

    topic = f"{root}/+/+/+/telemetry"
    client_id = f"bench-{'fast' if fast else 'ceiling'}-{root}"
    _session(url, client_id, topic, subscribe=True).disconnect()
    _publish_backlog(url, _single(root, n, base), n)
    done = threading.Event()
    received = [0]
    acks: list[int] = []

    def count() -> None:
        received[0] += 1
        if received[0] >= n:
            done.set()

    def on_publish_many(messages: list[tuple[str, bytes, int, int]]) -> None:
        for _, _, mid, _ in messages:  # what ingest does per message, without the work
            acks.append(mid)
            count()
            if len(acks) >= 1000 or done.is_set():
                client.ack_many(acks)
                acks.clear()

    client: Any
    with spent.phase(n) if spent is not None else nullcontext():
        if fast:
            client = FastClient(
                client_id=client_id, protocol=mqtt.MQTTv5, on_publish_many=on_publish_many
            )
            started = time.monotonic()
            _connect(client, url)
        else:
            started = time.monotonic()
            client = _session(url, client_id, topic, lambda c, u, m: count())
        done.wait(600)
        took = time.monotonic() - started
    client.disconnect()
    client.loop_stop()
    return received[0] / took


def _copy_ceiling(
    db_url: str, n_messages: int, flushers: int, base: datetime, spent: _Spent | None = None
) -> float:
    """(e'): what PostgreSQL takes here: ``flushers`` connections COPYing the rows of the
    same 50-reading payloads, decoded beforehand, in transactions of 10,000 rows."""
    import psycopg

    from citypulse import DeviceKind
    from ingest import Decoder
    from ingest._sink import _ENSURE_PARTITIONS, _layouts, copy_rows

    now = datetime.now(UTC)
    decoder = Decoder(root="benchF")
    layout = _layouts()[DeviceKind.CAMERA]
    rows = [
        row
        for topic, payload in _batches("benchF", n_messages, base)
        for row in decoder.decode(topic, payload, now).rows
    ]
    chunks = [rows[i : i + 10_000] for i in range(0, len(rows), 10_000)]
    with psycopg.connect(db_url) as conn:
        conn.execute(_ENSURE_PARTITIONS, (min(row[1] for row in rows), now))
        conn.commit()
    conns = [psycopg.connect(db_url) for _ in range(flushers)]

    def work(k: int) -> None:
        conn = conns[k]
        for chunk in chunks[k::flushers]:
            with conn.cursor() as cur:
                copy_rows(cur, layout.direct_sql, layout.types, chunk)
            conn.commit()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(flushers)]
    with spent.phase(len(rows)) if spent is not None else nullcontext():
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - started
    for conn in conns:
        conn.close()
    return len(rows) / took


def _checkpoint(db_url: str) -> None:
    """Write every dirty page out before a phase that writes rows.  Each 500,000-row
    phase writes about 180 MB of WAL, so PostgreSQL checkpoints every few phases, and a
    checkpoint under way (and the full-page images after it) slowed whichever phase it
    fell in by up to a third: the COPY ceiling alone ranged 244,000-366,000 rows/s over
    six rounds on a fresh database, 332,000-389,000 with a checkpoint before each."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _ingest_config(db_url: str, url: MqttUrl, root: str, **kw: Any) -> Any:
    from ingest import IngestConfig

    return IngestConfig(
        database_url=db_url,
        mqtt=url,
        client_id=f"bench-ingest-{root}",
        worker_id=f"bench-{root}",
        topic_root=root,
        share_group="bench",
        stats_interval=3600,
        maintain_interval=3600,
        **kw,
    )


def _ingest_drain(
    db_url: str,
    url: MqttUrl,
    root: str,
    backlog: Iterator[tuple[str, bytes]],
    n_messages: int,
    n_readings: int,
    spent: _Spent | None = None,
) -> tuple[float, float]:
    """(b)/(e): drain a backlog with citypulse ingest; returns (messages/s, readings/s).
    ``spent`` counts the drain's CPU per reading."""
    from ingest import IngestWorker

    cfg = _ingest_config(db_url, url, root)
    with IngestWorker(cfg) as worker:
        if not worker.wait_connected(30):
            raise TimeoutError("ingest did not subscribe")
    _publish_backlog(url, backlog, n_messages)
    timed = spent.phase(n_readings) if spent is not None else nullcontext()
    with ExitStack() as stack, timed:  # the worker's shutdown is not timed
        started = time.monotonic()
        worker = stack.enter_context(IngestWorker(cfg))
        _wait_stored(worker, n_readings)
        took = time.monotonic() - started
    return n_messages / took, n_readings / took


def _wait_stored(worker: Any, n_readings: int) -> None:
    """Wait until ``worker`` stored ``n_readings``; an error once nothing more is stored
    for ``_STALL`` s (a lost backlog must not hang the bench)."""
    stored, since = -1, time.monotonic()
    while not worker.wait_total("stored", n_readings, 1.0, poll=0.005):
        totals = worker.counters.totals()
        if worker.fatal is not None:
            raise RuntimeError(f"ingest failed ({worker.fatal}) at {totals}")
        if totals["stored"] > stored:
            stored, since = totals["stored"], time.monotonic()
        elif time.monotonic() - since > _STALL:
            raise RuntimeError(
                f"ingest stored {stored:,} of {n_readings:,} readings and nothing more for "
                f"{_STALL:g} s: the backlog was lost or the worker is stuck ({totals})"
            )


def _naive(db_url: str, url: MqttUrl, n: int, seconds: float) -> float:
    """(c): one INSERT per message in autocommit, acknowledged after the insert."""
    import psycopg

    topic = "benchC/+/+/+/telemetry"
    _session(url, "bench-naive", topic, subscribe=True).disconnect()
    _publish_backlog(url, _single("benchC", n, datetime.now(UTC) - timedelta(hours=1)), n)
    conn = psycopg.connect(db_url, autocommit=True)
    stored = [0]
    deadline = [0.0]
    lock = threading.Lock()

    def on_message(c: Any, u: Any, m: Any) -> None:
        doc = json.loads(m.payload)
        device = m.topic.split("/")[3]
        with lock:
            if time.monotonic() > deadline[0]:
                return
            conn.execute(
                "INSERT INTO camera_readings (time, device_id, lane_id, intensity,"
                " average_vehicle_speed, occupancy) VALUES (to_timestamp(%s / 1000.0), %s, %s,"
                " %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    doc["time"],
                    "naive-" + device,
                    doc["lane_id"],
                    doc["intensity"],
                    doc["average_vehicle_speed"],
                    doc["occupancy"],
                ),
            )
            stored[0] += 1

    started = time.monotonic()
    deadline[0] = started + seconds
    client = _session(url, "bench-naive", topic, on_message)
    while time.monotonic() < deadline[0] and stored[0] < n:
        time.sleep(0.05)
    took = min(time.monotonic(), deadline[0]) - started
    client.disconnect()
    client.loop_stop()
    with lock:
        conn.close()
    return stored[0] / took


def _publish_at_rate(url: str, root: str, rate: float, n: int, out: Any) -> None:
    """(d)'s publisher, in a process of its own so that it can offer the rate."""
    from lab._publish import BoundedPublisher

    def stamp(topic: str, payload: bytes) -> bytes:
        return payload.replace(b'"time":0', b'"time":%d' % int(time.time() * 1000), 1)

    messages = (
        (
            f"{root}/centr/camera/cam-{i % _DEVICES}/telemetry",
            b'{"time":0,"lane_id":%d,"intensity":5,"occupancy":0.2}' % (i // _DEVICES % 30),
        )
        for i in range(n)
    )
    with BoundedPublisher(MqttUrl.parse(url), max_inflight=200) as pub:
        started = time.monotonic()
        pub.publish(messages, rate=rate, stamp=stamp)
        offered = n / (time.monotonic() - started)
        pub.wait_acked(n, timeout=120)
    out.put(offered)


def _latency(
    db_url: str, url: MqttUrl, rate: float, seconds: float, batch_age: float
) -> dict[str, float]:
    """(d): publish at ``rate`` with the publish time in the payload; lag to commit."""
    import multiprocessing

    from citypulse import percentile
    from ingest import IngestWorker

    n = int(rate * seconds)
    cfg = _ingest_config(db_url, url, "benchD", batch_age=batch_age)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    with IngestWorker(cfg) as worker:
        if not worker.wait_connected(30):
            raise TimeoutError("ingest did not subscribe")
        publisher = ctx.Process(
            target=_publish_at_rate, args=(url.url(), "benchD", rate, n, out), daemon=True
        )
        publisher.start()
        give_up = time.monotonic() + seconds * 10 + 120
        while True:
            try:
                offered = float(out.get(timeout=1))
                break
            except queue.Empty:
                if not publisher.is_alive() or time.monotonic() > give_up:
                    raise RuntimeError("the latency publisher failed") from None
        publisher.join(30)
        if not worker.wait_total("received", n, 120, poll=0.01):
            raise RuntimeError(f"ingest received only {worker.counters.totals()} of {n:,}")
        time.sleep(0.3)
        lags = list(worker.counters.lag_ms)
    return {
        "offered_per_s": offered,
        "p50_ms": percentile(lags, 0.5) or 0.0,
        "p99_ms": percentile(lags, 0.99) or 0.0,
        "samples": float(len(lags)),
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    from lab._embedded import EmbeddedMosquitto, migrated_postgres

    quick = bool(args.quick)
    n = args.messages or (20_000 if quick else 200_000)
    seconds = args.seconds or (4.0 if quick else 10.0)
    rounds = max(1, args.rounds or (2 if quick else 3))
    batch_messages = max(n // 20, 4000)  # 200,000 readings at least: fixed costs stay small
    say("starting a private PostgreSQL and Mosquitto ...")
    with migrated_postgres("citypulse-bench-") as (pg, folder):
        broker = EmbeddedMosquitto(folder / "mqtt").start()
        try:
            url = MqttUrl.parse(broker.url)
            # Every phase and round writes its own span of time (the device ids are
            # shared): a backlog that met another's rows would be stored in part.
            span = timedelta(seconds=max(n, batch_messages * 50) / _DEVICES + 3600)
            now = datetime.now(UTC)

            def base(phase: int, r: int) -> datetime:
                return now - (1 + phase * rounds + r) * span

            ceilings: list[float] = []
            ingests: list[float] = []
            fasts: list[float] = []
            assert broker.proc is not None
            servers = {"postgres": pg.pid, "mosquitto": broker.proc.pid}
            spent = {
                "b": _Spent("ingest", servers),
                "a_fast": _Spent("reader", servers),
                "e": _Spent("ingest", servers),
                "e_copy": _Spent("copy", servers),
            }
            for r in range(rounds):
                say(f"(a) round {r + 1}/{rounds}: bare paho subscriber draining {n:,} messages")
                ceilings.append(_ceiling(url, n, f"benchA{r}", base(0, r)))
                say(f"    {ceilings[-1]:,.0f} msg/s")
                say(f"(b) round {r + 1}/{rounds}: citypulse ingest draining {n:,} messages")
                root = f"benchB{r}"
                _checkpoint(pg.url)
                rate, _ = _ingest_drain(
                    pg.url, url, root, _single(root, n, base(1, r)), n, n, spent["b"]
                )
                ingests.append(rate)
                say(f"    {rate:,.0f} rows/s")
                say(f"(a') round {r + 1}/{rounds}: ingest's reader (FastClient), only counting")
                fasts.append(
                    _ceiling(url, n, f"benchAf{r}", base(2, r), fast=True, spent=spent["a_fast"])
                )
                say(f"    {fasts[-1]:,.0f} msg/s")
            ceiling, ingest_rate, fast = max(ceilings), max(ingests), max(fasts)
            say("(c) naive baseline: one INSERT per message ...")
            _checkpoint(pg.url)
            naive = _naive(pg.url, url, min(n, 50_000), 8.0 if quick else 15.0)
            say(f"    {naive:,.0f} rows/s")
            say(
                f"(d) latency at {args.rate:,.0f} msg/s for {seconds:g} s "
                f"(publisher in its own process, batch age {_LATENCY_BATCH_AGE * 1000:g} ms) ..."
            )
            latency = _latency(pg.url, url, args.rate, seconds, _LATENCY_BATCH_AGE)
            say(f"    p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms")
            batch_rates: list[float] = []
            copy_rates: list[float] = []
            n_readings = batch_messages * 50
            for r in range(rounds):
                say(
                    f"(e) round {r + 1}/{rounds}: ingest draining {batch_messages:,} messages"
                    " of 50 readings"
                )
                root = f"benchE{r}"
                batches = _batches(root, batch_messages, base(3, r))
                _checkpoint(pg.url)
                _, batch_rate = _ingest_drain(
                    pg.url, url, root, batches, batch_messages, n_readings, spent["e"]
                )
                batch_rates.append(batch_rate)
                say(f"    {batch_rate:,.0f} readings/s")
                say(
                    f"(e') round {r + 1}/{rounds}: PostgreSQL alone, the same rows decoded"
                    " beforehand, COPYed by 2 connections"
                )
                _checkpoint(pg.url)
                copy_rates.append(
                    _copy_ceiling(pg.url, batch_messages, 2, base(4, r), spent["e_copy"])
                )
                say(f"    {copy_rates[-1]:,.0f} rows/s")
            batch_rate, copy_rate = max(batch_rates), max(copy_rates)
        finally:
            broker.stop()
    cores = len(os.sched_getaffinity(0))
    cpu = {phase: part.per_unit_us() for phase, part in spent.items()}
    # (b)'s processes together: the rate at which they would keep every core busy
    cost_b = sum(_processes(cpu["b"]).values())
    bound = cores / cost_b * 1e6 if cost_b else 0.0
    result = {
        "messages": n,
        "rounds": rounds,
        "ceiling_msg_per_s_each_round": [round(c) for c in ceilings],
        "ingest_rows_per_s_each_round": [round(i) for i in ingests],
        "ceiling_msg_per_s": round(ceiling),
        "ingest_rows_per_s": round(ingest_rate),
        "naive_rows_per_s": round(naive),
        "ingest_vs_ceiling": round(ingest_rate / ceiling, 3),
        "fastclient_ceiling_msg_per_s_each_round": [round(f) for f in fasts],
        "fastclient_ceiling_msg_per_s": round(fast),
        "ingest_vs_fastclient_ceiling": round(ingest_rate / fast, 3),
        "ingest_vs_naive": round(ingest_rate / naive, 1),
        "latency_offered_msg_per_s": round(latency["offered_per_s"]),
        "latency_p50_ms": round(latency["p50_ms"], 1),
        "latency_p99_ms": round(latency["p99_ms"], 1),
        "batch_readings_per_s_each_round": [round(b) for b in batch_rates],
        "batch_readings_per_s": round(batch_rate),
        "copy_ceiling_rows_per_s_each_round": [round(c) for c in copy_rates],
        "copy_ceiling_rows_per_s": round(copy_rate),
        "batch_vs_copy_ceiling": round(batch_rate / copy_rate, 3),
        "cores": cores,
        "cpu_us_per_unit": cpu,
        "ingest_cpu_bound_rows_per_s": round(bound),
        "targets_met": {
            "vs_ceiling>=0.6": ingest_rate / ceiling >= 0.6,
            "vs_naive>=10": ingest_rate / naive >= 10,
            "p99<=250ms": latency["p99_ms"] <= 250,
            "batch>=150k/s": batch_rate >= 150_000,
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        ratio, speedup = ingest_rate / ceiling, ingest_rate / naive
        lines = [
            f"ingest benchmark: {n:,} single-reading messages from {_DEVICES} devices; "
            f"best of {rounds} alternating rounds of (a), (b) and (a'), and of (e) and (e')",
            f"  (a) ceiling, bare paho subscriber     {ceiling:>10,.0f} msg/s" + _rounds(ceilings),
            f"  (b) citypulse ingest, rows committed  {ingest_rate:>10,.0f} rows/s"
            f"  = {ratio:.2f} x ceiling (target >= 0.6)" + _rounds(ingests),
            f"  (a') ingest's reader, only counting  {fast:>10,.0f} msg/s"
            f"  ingest = {ingest_rate / fast:.2f} x this" + _rounds(fasts),
            f"  (c) naive, one INSERT per message     {naive:>10,.0f} rows/s"
            f"  ingest = {speedup:.1f} x naive (target >= 10)",
            f"  (d) publish->commit at {latency['offered_per_s']:,.0f} msg/s:"
            f" p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms (target <= 250)",
            f"  (e) 50-reading batch payloads         {batch_rate:>10,.0f} readings/s"
            " (target >= 150,000)" + _rounds(batch_rates),
            f"  (e') PostgreSQL alone, 2 x COPY      {copy_rate:>10,.0f} rows/s"
            f"  ingest = {batch_rate / copy_rate:.2f} x this" + _rounds(copy_rates),
            f"  CPU per message in (b): {_parts(cpu['b'])}; at that cost the {cores} cores"
            f" hold at most {bound:,.0f} rows/s",
            f"  CPU per message in (a'): {_parts(cpu['a_fast'])}",
            f"  CPU per reading in (e): {_parts(cpu['e'])}",
            f"  CPU per reading in (e'): {_parts(cpu['e_copy'])}",
        ]
        print("\n".join(lines))
    return 0
