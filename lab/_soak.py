"""``citypulse bench soak``: the whole pipeline under sustained load, watched for loss and leaks.

Starts a private PostgreSQL and Mosquitto, the real
``citypulse ingest`` processes (two, on the shared subscription), ``citypulse detect`` and
``citypulse serve`` (delivering appeals to a signed-webhook receiver run here), then
publishes the preset city at ``--speed`` times its normal rate (simulated time runs that
much faster, ending at the present) for ``--minutes`` of wall time.  It prints, as it
goes and at the end: readings per second offered and committed, publish-to-commit
latency (p50/p99, reading-level, from the database's ``received_at``, which is stamped
when the writing transaction begins, so it undercounts by one commit), memory (RSS) of
each process after warm-up and at the end, and the exact count of readings lost or
duplicated, compared key by key with what the broker acknowledged.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from citypulse import (
    MqttUrl,
    Settings,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from lab._say import say

HELP = "the whole pipeline under sustained load"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--minutes",
        type=positive_float,
        default=None,
        help="wall-clock length (default 10; 1 --quick)",
    )
    parser.add_argument(
        "--speed", type=positive_float, default=5.0, help="times the city's normal rate (default 5)"
    )
    parser.add_argument(
        "--intersections",
        type=non_negative_int,
        default=0,
        help="a generated city of N intersections instead of the preset (0 = preset)",
    )
    parser.add_argument("--ingest-workers", type=positive_int, default=2, help="ingest processes")
    parser.add_argument("--seed", type=non_negative_int, default=11, help="simulation seed")
    parser.add_argument(
        "--faults",
        type=non_negative_float,
        default=150.0,
        help="random faults per simulated day, so detection and delivery have work (150)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data folder and process logs afterwards"
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=("DEBUG", "INFO", "WARNING"),
        help="the processes' log level (their logs are searched for secrets; DEBUG shows most)",
    )


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    rss_start: int = 0
    rss_end: int = 0
    rss_max: int = 0

    def sample(self) -> int:
        rss = rss_kib(self.popen.pid)
        self.rss_max = max(self.rss_max, rss)
        return rss


@dataclass
class _Expected:
    """Keys of every reading the publisher sent, and when (wall clock) it was sent."""

    speed: float
    keys: dict[tuple[str, str, int, int], float] = field(default_factory=dict)
    epoch0: float = 0.0
    sim0: float = 0.0

    def sent(self, t: float) -> float:
        """Wall-clock time the publisher paced simulated time ``t`` to."""
        return self.epoch0 + (t - self.sim0) / self.speed

    def wrap(self, messages: Iterator[Any]) -> Iterator[Any]:
        import orjson

        for m in messages:
            if not self.epoch0:
                self.epoch0, self.sim0 = time.time(), m.t
            if m.valid and not m.last_will and m.topic.endswith("/telemetry"):
                kind = m.topic.split("/")[-3]
                body = orjson.loads(m.payload)
                for r in body if isinstance(body, list) else [body]:
                    t = r["time"]
                    ms = (
                        t
                        if isinstance(t, int)
                        else int(datetime.fromisoformat(t).timestamp() * 1000)
                    )
                    self.keys[(kind, m.device_id, int(r.get("lane_id", 0)), ms)] = self.sent(m.t)
            yield m


def _command() -> list[str]:
    script = Path(sys.executable).with_name("citypulse")
    if script.exists():
        return [str(script)]
    found = shutil.which("citypulse")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from citypulse.cli import main; sys.exit(main())"]


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse.db import connect, migrate, upsert_devices
    from lab._demo import _faults
    from lab._embedded import EmbeddedMosquitto, EmbeddedPostgres, free_port
    from simulator import Simulation, generated_city, preset_city, publish

    minutes = args.minutes if args.minutes is not None else (1.0 if args.quick else 10.0)
    wall_s = minutes * 60.0
    city = (
        generated_city(args.intersections, seed=args.seed)
        if args.intersections
        else (preset_city())
    )
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    start = end - timedelta(seconds=wall_s * args.speed)
    # The demo's showcase (a stuck signal, smog, a dead camera) always, so that detection
    # and delivery have work however few random faults the rate draws.
    faults = _faults(
        city, start, end, rate=args.faults, seed=args.seed, showcase=not args.intersections
    )
    sim = Simulation(city, start=start, end=end, seed=args.seed, faults=faults)
    work = Path(tempfile.mkdtemp(prefix="citypulse-soak-", dir="/var/tmp"))
    os.chmod(work, 0o755)  # noqa: S103 - the unprivileged PostgreSQL must reach it
    pg = EmbeddedPostgres(work / "pg")
    broker = EmbeddedMosquitto(work / "mqtt")
    procs: list[_Proc] = []
    try:
        say("starting PostgreSQL and Mosquitto ...")
        pg.start()
        broker.start()
        with connect(pg.url, autocommit=True) as conn:
            migrate(conn, mode="plain")
            upsert_devices(conn, sim.devices)
        # Credentials every process is configured with; none may ever reach a log.  The
        # private servers accept any (trust auth, anonymous broker), so these are checked
        # for leaks, not for access control (tests/deploy covers that).
        secrets_used = {
            "database password": secrets.token_hex(12),
            "MQTT password": secrets.token_hex(12),
            "API key": secrets.token_hex(12),
            "webhook secret": secrets.token_hex(12),
        }
        db_url = pg.url.replace("postgres@", f"postgres:{secrets_used['database password']}@")
        mqtt_url = broker.url.replace(
            "mqtt://", f"mqtt://citypulse:{secrets_used['MQTT password']}@"
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CITYPULSE_")},
            "CITYPULSE_DATABASE_URL": db_url,
            "CITYPULSE_MQTT_URL": mqtt_url,
            "CITYPULSE_API_KEYS": f"operator:{secrets_used['API key']}",
        }
        base = _command()
        logs = work / "logs"
        logs.mkdir()

        def spawn(name: str, argv: list[str]) -> None:
            log = (logs / f"{name}.log").open("wb")
            level = args.log_level
            if name.startswith("ingest") and level not in ("DEBUG", "INFO"):
                level = "INFO"  # it says "subscribed" at INFO
            popen = subprocess.Popen(  # noqa: S603 - our own console script
                [*base, *argv],
                env={**env, "CITYPULSE_WORKER_ID": name, "CITYPULSE_LOG_LEVEL": level},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            procs.append(_Proc(name, popen))

        for i in range(args.ingest_workers):
            spawn(f"ingest-{i + 1}", ["ingest", "--client-id", f"soak-ingest-{i + 1}"])
        receiver = _Receiver(secret=secrets_used["webhook secret"]).start()
        env.update(  # detect writes an outbox row per connector; serve delivers it
            CITYPULSE_CONNECTORS="webhook",
            CITYPULSE_WEBHOOK_URL=receiver.url,
            CITYPULSE_WEBHOOK_SECRET=receiver.secret,
        )
        spawn("detect", ["detect", "--clock", "data", "--lookback", "86400"])
        spawn("serve", ["serve", "--port", str(free_port())])
        # Publish only once every ingest session is subscribed: before that the broker
        # has nobody to queue the city's messages for.
        deadline = time.monotonic() + 90.0
        waiting = [p.name for p in procs if p.name.startswith("ingest")]
        while waiting and time.monotonic() < deadline:
            waiting = [n for n in waiting if "subscribed:" not in (logs / f"{n}.log").read_text()]
            time.sleep(0.2)
        for p in procs:
            if p.popen.poll() is not None or p.name in waiting:
                say(f"{p.name} did not start ({p.popen.poll()}); see {logs / p.name}.log")
                return 1
        expected = _Expected(speed=args.speed)
        url = MqttUrl.parse(mqtt_url)
        published: list[int] = [0]
        stop_sampling = threading.Event()
        wall0 = time.monotonic()

        def sampler() -> None:
            warm = False
            while not stop_sampling.wait(5.0):
                rss = {p.name: p.sample() for p in procs}
                if not warm and time.monotonic() - wall0 >= min(60.0, wall_s / 4):
                    warm = True
                    for p in procs:
                        p.rss_start = rss[p.name]

        threading.Thread(target=sampler, name="soak-rss", daemon=True).start()

        def progress(p: Any) -> None:
            published[0] = p.messages
            with connect(pg.url, autocommit=True) as c:
                stored = _count(c)
            rss = ", ".join(f"{q.name} {q.sample() / 1024:.0f} MiB" for q in procs)
            say(
                f"  {p.wall_s:5.0f} s: published {p.messages:,} messages, "
                f"{len(expected.keys):,} readings; stored {stored:,}; RSS {rss}"
            )

        say(
            f"soak: {len(sim.devices)} devices at {args.speed:g}x their rate for "
            f"{minutes:g} min, {len(faults)} faults ({len(procs)} processes) ..."
        )
        report = publish(
            expected.wrap(sim.messages()),
            mqtt_url=url,
            devices=sim.devices,
            mode="gateway",
            speed=args.speed,
            progress=progress,
            progress_every_s=30.0,
        )
        drained = _wait_stored(pg.url, len(expected.keys), timeout=60.0)
        stop_sampling.set()
        for p in procs:
            p.rss_end = p.sample()
            if not p.rss_start:
                p.rss_start = p.rss_end
        result = _measure(pg.url, expected)
        result.update(_deliveries(pg.url, receiver))
        receiver.stop()
        result.update(
            messages=report.messages,
            wall_s=round(report.wall_s, 1),
            drained=drained,
            memory_kib={
                p.name: {"start": p.rss_start, "end": p.rss_end, "max": p.rss_max} for p in procs
            },
            crashed=[p.name for p in procs if p.popen.poll() is not None],
        )
        _stop(procs)
        result["secrets_in_logs"] = _leaks(logs, secrets_used)
        _print(result, json_out=args.json)
        ok = (
            result["lost"] == 0
            and result["duplicates"] == 0
            and not result["crashed"]
            and result["appeals_delivered_twice"] == 0
            and result["bad_signatures"] == 0
            and not result["secrets_in_logs"]
        )
        return 0 if ok else 1
    finally:
        _stop(procs)
        broker.stop()
        pg.stop()
        if args.keep:
            say(f"data and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _stop(procs: list[_Proc]) -> None:
    """SIGTERM every process (each drains and exits cleanly); SIGKILL after 30 s."""
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(30)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait(5)


def _leaks(logs: Path, secrets_used: dict[str, str]) -> list[str]:
    """Which configured secrets appear in any process's log."""
    text = b"".join(f.read_bytes() for f in sorted(logs.glob("*.log")))
    return sorted(name for name, value in secrets_used.items() if value.encode() in text)


class _Receiver:
    """A webhook receiver on 127.0.0.1 that verifies signatures and counts each appeal."""

    def __init__(self, *, secret: str) -> None:
        self.secret = secret
        self.keys: dict[str, int] = {}
        self.bad = 0
        self.lock = threading.Lock()
        self.server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> _Receiver:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from connectors import WebhookSignatureError, verify_webhook

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    verify_webhook(outer.secret, dict(self.headers.items()), body)
                except WebhookSignatureError:
                    with outer.lock:
                        outer.bad += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                key = self.headers.get("Idempotency-Key", "")
                with outer.lock:
                    outer.keys[key] = outer.keys.get(key, 0) + 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, name="soak-hook", daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _deliveries(url: str, receiver: _Receiver, timeout: float = 30.0) -> dict[str, Any]:
    """Wait for the outbox to drain; count what the receiver got, per idempotency key."""
    from psycopg.rows import dict_row

    from citypulse.db import connect, scalar

    deadline = time.monotonic() + timeout
    outbox: dict[str, Any] = {"pending": 0, "failed": 0, "total": 0}
    with connect(url, autocommit=True) as c:
        counts = c.cursor(row_factory=dict_row)
        while time.monotonic() < deadline:
            found = counts.execute(
                "SELECT count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL)"
                " AS pending, count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed,"
                " count(*) AS total FROM outbox"
            ).fetchone()
            outbox = found if found is not None else outbox
            if outbox["pending"] == 0:
                break
            time.sleep(0.5)
        incidents = scalar(c, "SELECT count(*) FROM incidents")
        appeals = scalar(c, "SELECT count(*) FROM appeals")
    with receiver.lock:
        received = dict(receiver.keys)
    return {
        "incidents": int(incidents),
        "appeals": int(appeals),
        "outbox": int(outbox["total"]),
        "outbox_pending": int(outbox["pending"]),
        "outbox_failed": int(outbox["failed"]),
        "appeals_received": len(received),
        "appeals_delivered_twice": sum(1 for n in received.values() if n > 1),
        "bad_signatures": receiver.bad,
    }


def _count(conn: Any) -> int:
    from citypulse.db import count_readings

    return sum(count_readings(conn).values())


def _wait_stored(url: str, n: int, *, timeout: float) -> bool:
    from citypulse.db import connect

    deadline = time.monotonic() + timeout
    with connect(url, autocommit=True) as c:
        while time.monotonic() < deadline:
            if _count(c) >= n:
                return True
            time.sleep(0.5)
    return False


def _measure(url: str, expected: _Expected) -> dict[str, Any]:
    from psycopg import sql

    from citypulse import DeviceKind
    from citypulse.db import READING_TABLES, connect

    stored: set[tuple[str, str, int, int]] = set()
    rows = 0
    latencies: list[float] = []
    per_second: dict[int, int] = {}
    with connect(url, autocommit=True) as c:
        for kind, table in READING_TABLES.items():
            has_lane = kind is DeviceKind.CAMERA
            lane = sql.Identifier("lane_id") if has_lane else sql.Literal(0)
            query = sql.SQL(
                "SELECT device_id, {}, (extract(epoch FROM time) * 1000)::bigint, "
                "extract(epoch FROM received_at) FROM {} WHERE NOT time_from_receiver"
            ).format(lane, sql.Identifier(table))
            for device, ln, ms, recv in c.execute(query):
                rows += 1
                key = (kind.value, device, int(ln), int(ms))
                stored.add(key)
                sent = expected.keys.get(key)
                if sent is not None:
                    latencies.append(float(recv) - sent)
                per_second[int(recv)] = per_second.get(int(recv), 0) + 1
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)

    rates = sorted(per_second.values())
    return {
        "readings_expected": len(expected.keys),
        "readings_stored": len(stored),
        "lost": len(expected.keys.keys() - stored),
        "lost_sample": sorted(expected.keys.keys() - stored)[:5],
        "unexpected": len(stored - expected.keys.keys()),
        "duplicates": rows - len(stored),
        "latency_ms_p50": pct(0.5) if latencies else None,
        "latency_ms_p99": pct(0.99) if latencies else None,
        "readings_per_s_mean": round(len(stored) / max(1, len(per_second)), 1),
        "readings_per_s_max": rates[-1] if rates else 0,
    }


def _print(result: dict[str, Any], *, json_out: bool) -> None:
    if json_out:
        print(json.dumps(result, indent=2))
        return
    print()
    print(f"soak: {result['messages']:,} messages over {result['wall_s']} s")
    print(
        f"  readings: {result['readings_expected']:,} acknowledged by the broker, "
        f"{result['readings_stored']:,} stored; lost {result['lost']}, "
        f"duplicated {result['duplicates']}, unexpected {result['unexpected']}"
    )
    print(
        f"  committed: {result['readings_per_s_mean']} readings/s on average "
        f"(busiest second {result['readings_per_s_max']})"
    )
    print(
        f"  publish->commit latency: p50 {result['latency_ms_p50']} ms, "
        f"p99 {result['latency_ms_p99']} ms"
    )
    print("  memory (RSS, MiB)    after warm-up      end      max   growth")
    for name, m in result["memory_kib"].items():
        growth = (m["end"] - m["start"]) / max(1, m["start"]) * 100
        print(
            f"    {name:18s} {m['start'] / 1024:12.1f} {m['end'] / 1024:8.1f} "
            f"{m['max'] / 1024:8.1f} {growth:+7.1f} %"
        )
    print(
        f"  detection and delivery: {result['incidents']} incidents, {result['appeals']} appeals,"
        f" {result['outbox']} webhook deliveries queued, {result['appeals_received']} received"
        f" (twice: {result['appeals_delivered_twice']}, pending {result['outbox_pending']},"
        f" failed {result['outbox_failed']}, bad signatures {result['bad_signatures']})"
    )
    leaks = ", ".join(result["secrets_in_logs"]) or "none"
    print(f"  secrets found in the processes' logs: {leaks}")
    if result["lost"]:
        print(f"  LOST, e.g. (kind, device, lane, epoch ms): {result['lost_sample']}")
    if result["crashed"]:
        print(f"  CRASHED: {', '.join(result['crashed'])}")
