"""Measure the governance center's API and appeal writing, against baselines, in one run.

Starts a private PostgreSQL, seeds a queue of appeals over the preset city (90 days of
citizens' reports), serves the API on a free port and, from concurrent HTTP clients,
measures for a fixed time each:
  (a) ceiling: ``GET services.json`` (the framework and network, no database);
  (b) ``GET requests.json`` with filters (status, sector, page_size=50): req/s, p50/p99;
  (c) ``POST requests.json`` (a citizen's report, correlated on arrival): req/s, p50/p99;
  (f) the operators' console, signed in (``lab._bench_console``): the queue unfiltered and
      filtered, an appeal's page with its chart, the map: the server's time p50/p99;
and before those, in process, (d) incidents written per second with AppealWriter as the
listener (appeal, history, an outbox row per connector, correlation) against (e) the same
incidents written with no listener, so the price of an appeal in the detect worker's
transaction shows as a ratio.  Client and server share the machine, so absolute figures are low
where other work runs: compare the lines of one run, not runs on different machines.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from citypulse import Settings, percentile, positive_float, positive_int
from lab._say import say

HELP = "measure the Open311 API and appeal writing"
_SEED_SQL = """
INSERT INTO appeals (source, sector, service_code, title, description, lat, lon, agency,
                     status, requested_at, expected_at)
SELECT 'citizen', s.sector, s.code, 'Обращение ' || g, 'Текст обращения ' || g,
       54.50 + random() * 0.03, 36.23 + random() * 0.05, s.agency,
       (ARRAY['new', 'accepted', 'in_progress', 'resolved', 'closed'])[1 + g %% 5],
       now() - random() * interval '90 days', now() - random() * interval '80 days'
FROM generate_series(1, %s) AS g
CROSS JOIN LATERAL (
    SELECT * FROM (VALUES ('Дороги', 'traffic-signal', 'МКУ «Управление дорожного хозяйства»'),
                          ('Экология', 'air-quality', 'Министерство природных ресурсов'),
                          ('ТКО', 'waste', 'Региональный оператор'),
                          ('Транспорт', 'parking', 'МКУ «Городские парковки»'))
           AS v (sector, code, agency)
    OFFSET g %% 4 LIMIT 1
) AS s
"""
_INCIDENT = """
INSERT INTO incidents (type, device_id, severity, started_at, last_alarm_at, detector,
                       score, threshold, value, limit_value, unit, evidence)
VALUES (%s, %s, 2, %s, %s, 'bench', 0.9, 0.5, 420, 120, 's', '{"phase": "red"}')
RETURNING id
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds", type=positive_float, help="per HTTP measurement (default 10, quick 3)"
    )
    parser.add_argument("--clients", type=positive_int, default=8, help="concurrent HTTP clients")
    parser.add_argument(
        "--appeals", type=positive_int, help="appeals seeded (default 50,000, quick 5,000)"
    )
    parser.add_argument(
        "--console-clients",
        type=positive_int,
        default=4,
        help="concurrent signed-in operators loading the console's pages (default 4)",
    )


def _load(
    url: str, clients: int, seconds: float, call: Callable[[Any, int], int]
) -> dict[str, float]:
    """``clients`` threads calling ``call(client, i)`` for ``seconds``; status must be 2xx."""
    import httpx

    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start_gate = threading.Barrier(clients + 1)
    deadline = 0.0

    def worker(k: int) -> None:
        with httpx.Client(base_url=url, timeout=10.0) as client:
            start_gate.wait()
            i = 0
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                status = call(client, k * 1_000_000 + i)
                latencies[k].append(time.perf_counter() - t0)
                if not 200 <= status < 300:
                    errors[k] += 1
                i += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds
    start_gate.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    flat = sorted(x for part in latencies for x in part)
    if not flat:
        return {"per_s": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": float(sum(errors))}
    return {
        "per_s": len(flat) / elapsed,
        "p50_ms": (percentile(flat, 0.5) or 0.0) * 1000,
        "p99_ms": (percentile(flat, 0.99) or 0.0) * 1000,
        "errors": float(sum(errors)),
    }


def _incidents(url: str, n: int, listener: Any) -> float:
    """Incidents per second, one transaction each, with ``listener`` called in it."""
    from citypulse import Incident, IncidentChange, IncidentStatus, IncidentType
    from citypulse.db import connect, load_devices, scalar

    with connect(url) as conn:
        devices = list(load_devices(conn).values())
        combos = [(t, d) for t in IncidentType for d in devices][:n]
        t0 = datetime.now(UTC) - timedelta(minutes=10)
        began = time.perf_counter()
        for incident_type, device in combos:
            incident_id = int(scalar(conn, _INCIDENT, (incident_type.value, device.id, t0, t0)))
            if listener is not None:
                incident = Incident(
                    id=incident_id,
                    type=incident_type,
                    device_id=device.id,
                    severity=2,
                    status=IncidentStatus.OPEN,
                    started_at=t0,
                    last_alarm_at=t0,
                    detector="bench",
                    score=0.9,
                    threshold=0.5,
                    value=420.0,
                    limit_value=120.0,
                    unit="s",
                    evidence={"phase": "red"},
                )
                listener.incident_changed(conn, incident, device, IncidentChange.OPENED)
            conn.commit()
        elapsed = time.perf_counter() - began
        conn.execute("UPDATE appeals SET incident_id = NULL, source = 'citizen'")
        conn.execute("DELETE FROM incidents")
        conn.commit()
    return len(combos) / elapsed


def run(args: argparse.Namespace, settings: Settings) -> int:
    from appeals import (
        Api,
        AppealWriter,
        KeyStore,
        add_key,
        load_routing,
        open_pool,
        serve_in_thread,
    )
    from citypulse.db import connect, upsert_devices
    from console import Console, SessionCodec, application
    from lab import _bench_console as bc
    from lab._embedded import free_port, migrated_postgres
    from simulator import preset_city

    # One log line per request would measure the log, not the API.
    for name in ("httpx", "appeals._api"):
        logging.getLogger(name).setLevel(logging.WARNING)
    quick = bool(args.quick)
    seconds = args.seconds or (3.0 if quick else 10.0)
    seeded = args.appeals or (5_000 if quick else 50_000)
    incidents = 300 if quick else 1200
    routing = load_routing(settings.routing_file)
    say("starting a private PostgreSQL ...")
    with migrated_postgres("citypulse-bench-api-") as (pg, _):
        with connect(pg.url, autocommit=True) as conn:
            upsert_devices(conn, preset_city().devices())
            conn.execute(_SEED_SQL, (seeded,))
            conn.execute("ANALYZE appeals")
            key = add_key(conn, name="bench", role="reporter")
            operator = add_key(conn, name="bench-operator", role="operator")
        # Before the HTTP part: its burst of fresh reports would all correlate with
        # every new sensor appeal, which measures a flood, not the usual queue.
        say(f"(d)/(e) {incidents} incidents, with and without AppealWriter ...")
        without = _incidents(pg.url, incidents, None)
        writer = AppealWriter(routing=routing, connectors=("webhook", "open311"))
        with_appeals = _incidents(pg.url, incidents, writer)
        charted = bc.sensor_appeals(pg.url, routing)
        say(f"seeded {seeded:,} appeals; serving the API ...")
        pool = open_pool(pg.url, max_size=args.clients + 2)
        try:
            keys = KeyStore()
            api = Api(pool=pool, routing=routing, keys=keys, connectors=("webhook",)).app()
            console = Console(
                pool=pool, routing=routing, keys=keys, codec=SessionCodec(secret=b"b" * 32)
            )
            timed = bc.Timed(application(api, console))
            with serve_in_thread(timed, port=free_port()) as url:  # type: ignore[arg-type]
                say(f"(a) ceiling: GET services.json for {seconds:g} s ...")
                ceiling = _load(
                    url,
                    args.clients,
                    seconds,
                    lambda c, i: c.get("/open311/v2/services.json").status_code,
                )
                say(f"(b) GET requests.json (filtered, 50 a page) for {seconds:g} s ...")
                sectors = ("Дороги", "Экология", "ТКО", "Транспорт")
                listing = _load(
                    url,
                    args.clients,
                    seconds,
                    lambda c, i: (
                        c.get(
                            "/open311/v2/requests.json",
                            params={
                                "status": "open",
                                "sector": sectors[i % 4],
                                "page_size": 50,
                                "page": 1 + i % 3,
                            },
                        ).status_code
                    ),
                )
                rnd = random.Random(7)
                say(f"(c) POST requests.json (citizens' reports) for {seconds:g} s ...")
                posting = _load(
                    url,
                    args.clients,
                    seconds,
                    lambda c, i: (
                        c.post(
                            "/open311/v2/requests.json",
                            data={
                                "api_key": key,
                                "service_code": "traffic-signal",
                                "lat": f"{54.50 + rnd.random() * 0.03:.6f}",
                                "long": f"{36.23 + rnd.random() * 0.05:.6f}",
                                "description": f"Светофор не работает ({i})",
                            },
                        ).status_code
                    ),
                )
                say(f"(f) the console's pages, {args.console_clients} operators, "
                    f"{seconds:g} s each ...")  # fmt: skip
                pages = bc.measure(
                    timed,
                    url,
                    lambda call: _load(url, args.console_clients, seconds, call),
                    bc.sign_in(url, operator),
                    charted,
                )
        finally:
            pool.close()
    result = {
        "seeded_appeals": seeded,
        "clients": args.clients,
        "seconds": seconds,
        "ceiling_services": ceiling,
        "get_requests": listing,
        "post_requests": posting,
        "incidents_per_s_without_listener": without,
        "incidents_per_s_with_appeals": with_appeals,
        "appeal_cost_ratio": without / with_appeals if with_appeals else None,
        "console_clients": args.console_clients,
        "console_server_ms": pages,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    def line(name: str, m: dict[str, float]) -> str:
        return (
            f"  {name:<40} {m['per_s']:>8,.0f} req/s  p50 {m['p50_ms']:6.1f} ms"
            f"  p99 {m['p99_ms']:6.1f} ms  non-2xx {m['errors']:.0f}"
        )

    print(
        "\n".join(
            [
                f"API benchmark: {seeded:,} appeals seeded, {args.clients} clients,"
                f" {seconds:g} s each (client and server on this machine)",
                line("(a) ceiling: GET services.json", ceiling),
                line("(b) GET requests.json, filtered", listing),
                line("(c) POST requests.json (+correlation)", posting),
                f"  (d) incidents + appeals (AppealWriter) {with_appeals:>8,.0f} /s"
                " (one transaction each)",
                f"  (e) incidents alone (no listener)      {without:>8,.0f} /s"
                f"  -> an appeal costs {without / with_appeals:.1f} x an incident",
                f"  (f) the console, {args.console_clients} signed-in operators: server time"
                " per page (target p99 <= 300 ms)",
                *(
                    f"      {name:<36} {int(m['requests']):>6} pages  p50 {m['p50_ms']:6.1f} ms"
                    f"  p99 {m['p99_ms']:6.1f} ms  non-2xx {m['errors']:.0f}"
                    for name, m in pages.items()
                ),
            ]
        )
    )
    return 0
