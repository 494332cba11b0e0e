"""Measure webhook delivery from the outbox, against a ceiling and a baseline, in one run.

Starts a private PostgreSQL and a local receiver that verifies every signature, dedupes on
Idempotency-Key and answers after 50 ms (a remote system's typical latency; on loopback
the database alone would set the pace), then prints:
  (a) the ceiling: bare signed POSTs from 8 threads, no database;
  (b) citypulse's DeliveryWorker (concurrency 8) draining an outbox backlog;
  (c) the baseline: the same worker one delivery at a time;
  (d) the backlog again with a faulty receiver (20 % 503, 3 % responses lost past the
      client timeout): deliveries/s, retries, and every appeal processed exactly once;
  (e) outbox-to-receiver latency p50/p99 at a steady offered rate (appeals committed one
      per transaction, as the appeals writer does): LISTEN/NOTIFY wakes the worker, the
      default 1 s poll is only a safety net.
Targets: (b) >= 0.6 x (a) and >= 3 x (c); (d) exactly once; (e) p99 <= 250 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import Counter
from typing import Any

from citypulse import Secret, Settings, percentile, positive_float, positive_int
from lab._say import say

HELP = "measure webhook delivery from the outbox"
_SECRET = "bench-secret"  # noqa: S105  (a private, throwaway receiver)
_ENQUEUE = """
WITH a AS (
    INSERT INTO appeals (source, channel, external_id, sector, service_code, title, lat, lon,
                         address)
    SELECT 'citizen', 'bench', %(tag)s || '-' || g, 'Дороги', 'traffic_light',
           'Светофор не переключается', 54.5138, 36.2612, 'ул. Кирова, 1'
    FROM generate_series(1, %(n)s) g
    RETURNING id
)
INSERT INTO outbox (appeal_id, connector, event, idempotency_key, payload)
SELECT id, 'webhook', 'created', 'bench-' || %(tag)s || '-' || id,
       jsonb_build_object('service_request_id', id::text, 'service_code', 'traffic_light',
           'status', 'open', 'lat', 54.5138, 'long', 36.2612, 'address', 'ул. Кирова, 1',
           'description', 'Светофорный объект на перекрёстке ул. Кирова — ул. Ленина: '
                          'фаза «красный» не переключается с 08:14 МСК')
FROM a
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--appeals",
        type=positive_int,
        default=None,
        help="backlog size (default 5,000; 1,000 quick)",
    )
    parser.add_argument(
        "--rate", type=positive_float, default=50.0, help="offered appeals/s for the latency phase"
    )


class _Receiver:
    """Verifies, dedupes and counts; ``fail`` and ``lose`` are fractions of requests."""

    def __init__(self, *, seed: int = 1) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from connectors import WebhookSignatureError, verify_webhook

        self.lock = threading.Lock()
        self.arrivals: Counter[str] = Counter()
        self.processed: Counter[str] = Counter()
        self.rejected = 0
        self.deduped = 0
        self.fail = 0.0
        self.lose = 0.0
        self.stall = 1.5
        self.latency = 0.05
        rng = random.Random(seed)
        rx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    verify_webhook(_SECRET, self.headers.items(), body)
                except WebhookSignatureError:
                    with rx.lock:
                        rx.rejected += 1
                    self._answer(401)
                    return
                key = self.headers.get("Idempotency-Key", "")
                with rx.lock:
                    rx.arrivals[key] += 1
                    roll = rng.random()
                    if roll < rx.fail:
                        outcome = 503
                    else:
                        if rx.processed[key]:
                            rx.deduped += 1
                        else:
                            rx.processed[key] += 1
                        outcome = 0 if roll < rx.fail + rx.lose else 204
                time.sleep(rx.stall if outcome == 0 else rx.latency)
                self._answer(outcome or 204)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self, *, fail: float = 0.0, lose: float = 0.0) -> None:
        with self.lock:
            self.arrivals.clear()
            self.processed.clear()
            self.deduped = 0
            self.fail, self.lose = fail, lose

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ceiling(url: str, n: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from connectors import sign_webhook

    body = b'{"event":"created","appeal":{"service_code":"traffic_light"}}'

    def post(i: int) -> None:
        ts = int(time.time())
        client.post(
            url,
            content=body,
            headers={
                "Idempotency-Key": f"ceiling-{i}",
                "X-Citypulse-Timestamp": str(ts),
                "X-Citypulse-Signature": sign_webhook(_SECRET, ts, body),
            },
        ).raise_for_status()

    with httpx.Client(timeout=10.0) as client, ThreadPoolExecutor(8) as pool:
        started = time.perf_counter()
        list(pool.map(post, range(n)))
        return n / (time.perf_counter() - started)


def _pending(conn: Any) -> int:
    from citypulse.db import scalar

    return int(
        scalar(conn, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL")
    )


def _drain(
    db_url: str, url: str, n: int, tag: str, concurrency: int, timeout: float = 5.0
) -> dict[str, Any]:
    """Enqueue ``n`` entries, deliver them all, return the rate and the worker's counters."""
    from citypulse.db import connect, scalar
    from connectors import Backoff, DeliveryWorker, WebhookConnector

    with connect(db_url, autocommit=True) as conn:
        conn.execute(_ENQUEUE, {"tag": tag, "n": n})
        worker = DeliveryWorker(
            database_url=db_url,
            connectors=[WebhookConnector(url=url, secret=Secret(_SECRET))],
            worker_id=f"bench-{tag}",
            timeout=timeout,
            concurrency=concurrency,
            backoff=Backoff(base=0.1, cap=1.0),
            poll_interval=0.05,
        )
        with worker:
            started = time.perf_counter()
            worker.start()
            while _pending(conn):
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        failed = int(scalar(conn, "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL"))
    counters = worker.counters
    return {
        "per_s": n / elapsed,
        "retried": counters.retried,
        "failed": failed,
    }


def _latency(db_url: str, url: str, rate: float, seconds: float) -> dict[str, float]:
    from psycopg.rows import scalar_row

    from citypulse.db import connect
    from connectors import DeliveryWorker, WebhookConnector

    worker = DeliveryWorker(
        database_url=db_url,
        connectors=[WebhookConnector(url=url, secret=Secret(_SECRET))],
        worker_id="bench-latency",
        timeout=5.0,
        concurrency=8,
    )
    n = max(1, int(rate * seconds))
    with connect(db_url, autocommit=True) as conn, worker:
        worker.start()
        started = time.perf_counter()
        for i in range(n):
            conn.execute(_ENQUEUE, {"tag": f"lat{i}", "n": 1})
            time.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
        offered = n / (time.perf_counter() - started)
        while _pending(conn):
            time.sleep(0.05)
        latencies_ms = conn.cursor(row_factory=scalar_row).execute(
            "SELECT extract(epoch FROM delivered_at - created_at) * 1000 FROM outbox"
            " WHERE idempotency_key LIKE 'bench-lat%%' ORDER BY 1"
        )
        values = [float(ms) for ms in latencies_ms.fetchall()]
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    if p50 is None or p99 is None:
        raise RuntimeError("no delivery was timed")
    return {"offered_per_s": offered, "p50_ms": p50, "p99_ms": p99}


def run(args: argparse.Namespace, settings: Settings) -> int:
    import logging

    from lab._embedded import migrated_postgres

    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("connectors").setLevel(logging.ERROR)  # retries are expected here
    quick = bool(args.quick)
    n = args.appeals or (1_000 if quick else 5_000)
    seconds = 5.0 if quick else 15.0
    say("starting a private PostgreSQL and a local webhook receiver ...")
    with migrated_postgres("citypulse-bench-") as (pg, _):
        rx = _Receiver()
        try:
            say(f"(a) ceiling: {n:,} bare signed POSTs from 8 threads ...")
            ceiling = _ceiling(rx.url, n)
            say(f"    {ceiling:,.0f} POST/s")
            rx.reset()
            say(f"(b) DeliveryWorker, concurrency 8, {n:,} outbox entries ...")
            fast = _drain(pg.url, rx.url, n, "b", 8)
            once_b = len(rx.processed) == n and fast["failed"] == 0
            redelivered_b = rx.deduped
            say(f"    {fast['per_s']:,.0f} deliveries/s ({redelivered_b} redeliveries deduped)")
            base_n = max(n // 4, 100)
            rx.reset()
            say(f"(c) baseline: concurrency 1, {base_n:,} entries ...")
            slow = _drain(pg.url, rx.url, base_n, "c", 1)
            say(f"    {slow['per_s']:,.0f} deliveries/s")
            rx.reset(fail=0.2, lose=0.03)
            say(f"(d) faulty receiver (20% 503, 3% lost responses), {n:,} entries ...")
            faulty = _drain(pg.url, rx.url, n, "d", 8, timeout=1.0)  # < the 1.5 s stall
            exactly_once = (
                len(rx.processed) == n
                and set(rx.processed.values()) == {1}
                and faulty["failed"] == 0
            )
            duplicates = rx.deduped
            say(
                f"    {faulty['per_s']:,.0f} deliveries/s, {faulty['retried']:,} retries, "
                f"{duplicates:,} redeliveries deduped, exactly once: {exactly_once}"
            )
            rx.reset()
            say(f"(e) latency at {args.rate:g} appeals/s for {seconds:g} s ...")
            latency = _latency(pg.url, rx.url, args.rate, seconds)
            say(f"    p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms")
            rejected = rx.rejected
        finally:
            rx.close()
    result: dict[str, object] = {
        "appeals": n,
        "ceiling_post_per_s": round(ceiling),
        "delivery_per_s": round(fast["per_s"]),
        "delivery_redeliveries_deduped": redelivered_b,
        "baseline_per_s": round(slow["per_s"]),
        "vs_ceiling": round(fast["per_s"] / ceiling, 3),
        "vs_baseline": round(fast["per_s"] / slow["per_s"], 1),
        "faulty_per_s": round(faulty["per_s"]),
        "faulty_retries": faulty["retried"],
        "faulty_redeliveries_deduped": duplicates,
        "latency_offered_per_s": round(latency["offered_per_s"], 1),
        "latency_p50_ms": round(latency["p50_ms"]),
        "latency_p99_ms": round(latency["p99_ms"]),
        "signatures_rejected": rejected,
    }
    targets = {
        "vs_ceiling>=0.6": fast["per_s"] / ceiling >= 0.6,
        "vs_baseline>=3": fast["per_s"] / slow["per_s"] >= 3,
        "exactly_once": once_b and exactly_once and rejected == 0,
        "p99<=250ms": latency["p99_ms"] <= 250,
    }
    result["targets_met"] = targets
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            "\n".join(
                [
                    f"delivery benchmark: {n:,} webhook deliveries to a local receiver"
                    " answering in 50 ms",
                    f"  (a) ceiling, bare signed POSTs x8      {ceiling:>8,.0f} /s",
                    f"  (b) DeliveryWorker, concurrency 8      {fast['per_s']:>8,.0f} /s"
                    f"  = {result['vs_ceiling']:.2f} x ceiling (target >= 0.6)",
                    f"  (c) baseline, one at a time            {slow['per_s']:>8,.0f} /s"
                    f"  worker = {result['vs_baseline']:.1f} x baseline (target >= 3)",
                    f"  (d) 20% 503 + 3% lost responses        {faulty['per_s']:>8,.0f} /s"
                    f"  {faulty['retried']:,} retries, {duplicates:,} redeliveries deduped,"
                    f" exactly once: {exactly_once}",
                    f"  (e) outbox->receiver at {latency['offered_per_s']:.0f} appeals/s:"
                    f" p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms"
                    " (target <= 250)",
                ]
            )
        )
    return 0 if all(targets.values()) else 1
