"""Run citypulse on embedded defaults: nothing to install or configure but Python.

Starts a private PostgreSQL (plain-PostgreSQL schema mode) and an MQTT broker (the local
Mosquitto, else amqtt for a demo feed) in a data folder, registers the preset city
(Kaluga's centre), simulates the last few hours with injected faults at high speed
through MQTT into the ingest worker, runs the detector set over what was stored (as
``citypulse detect --from/--to`` does), turning incidents into appeals with Russian
texts, serves the Open311 API over them and writes a static HTML report.  It ends with a
summary (also written as ``summary.json``) and, on a terminal, keeps the API up until
Ctrl-C.  Data stays in the folder for the next run; Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from citypulse import (
    MqttUrl,
    Settings,
    non_negative_float,
    non_negative_int,
    positive_float,
    tcp_port,
)

HELP = "run the whole system on embedded defaults"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".citypulse/demo"),
        help="where the embedded servers keep their data (default .citypulse/demo)",
    )
    parser.add_argument(
        "--hours", type=positive_float, default=6.0, help="simulated hours, ending now (default 6)"
    )
    parser.add_argument(
        "--faults",
        type=non_negative_float,
        default=12.0,
        help="random faults per simulated day (default 12)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=7, help="simulation seed (default 7)"
    )
    parser.add_argument(
        "--serve",
        choices=("auto", "yes", "no"),
        default="auto",
        help="keep the API up after the summary until Ctrl-C (auto: when on a terminal)",
    )
    parser.add_argument(
        "--port", type=tcp_port, default=8311, help="API port (default 8311, or a free one)"
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse.db import connect, migrate, refresh_rollups, upsert_devices
    from ingest import IngestConfig, IngestWorker
    from lab._embedded import (
        EmbeddedAmqtt,
        EmbeddedMosquitto,
        EmbeddedPostgres,
        start_broker,
    )
    from simulator import Simulation, preset_city, publish, write_ground_truth

    if settings.log_level == "INFO":  # the default: keep the progress lines readable
        for name in ("ingest", "citypulse.db", "detectors._incidents"):
            logging.getLogger(name).setLevel(logging.WARNING)
    data: Path = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    _say(f"data folder: {data}")
    pg = EmbeddedPostgres(data / "postgres")
    broker: EmbeddedMosquitto | EmbeddedAmqtt | None = None
    try:
        _say("starting PostgreSQL ...")
        pg.start()
        _say("starting the MQTT broker ...")
        broker = start_broker(data / "mosquitto")
        if not broker.full_mqtt:
            _say(
                "  Mosquitto is not installed: using amqtt, a demo-only broker "
                "(MQTT 3.1.1, no shared subscriptions, no redelivery)"
            )
        with connect(pg.url, autocommit=True) as conn:
            report = migrate(conn, mode="plain")
        _say(f"schema: {report.mode} mode, {len(report.applied)} migrations applied now")

        city = preset_city()
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        start = end - timedelta(hours=args.hours)
        faults = _faults(city, start, end, rate=args.faults, seed=args.seed)
        sim = Simulation(city, start=start, end=end, seed=args.seed, faults=faults)
        write_ground_truth(data / "ground-truth.jsonl", faults)
        with connect(pg.url) as conn:
            upsert_devices(conn, sim.devices)
            conn.commit()
        mqtt = MqttUrl.parse(broker.url)
        config = IngestConfig(
            database_url=pg.url,
            mqtt=mqtt,
            client_id="citypulse-demo-ingest",
            worker_id="demo",
            stats_interval=2.0,
            share_group="citypulse" if broker.full_mqtt else "",
            protocol="auto" if broker.full_mqtt else "3.1.1",
        )
        with IngestWorker(config) as worker:
            if not worker.wait_connected(30):
                _say("ingest could not subscribe to the broker")
                return 1
            _say(
                f"simulating {args.hours:g} h of {len(sim.devices)} devices with "
                f"{len(faults)} faults ..."
            )

            def progress(p: object) -> None:
                _say(
                    f"  published {getattr(p, 'messages', 0):,} messages; "
                    f"stored {worker.counters.totals()['stored']:,} readings"
                )

            published = publish(
                sim.messages(),
                mqtt_url=mqtt,
                devices=sim.devices,
                mode="gateway",
                progress=progress,
                protocol="5" if broker.full_mqtt else "3.1.1",
            )
            worker.wait_total("received", published.messages - published.wills, 120, poll=0.2)
            time.sleep(1.0)
        with connect(pg.url, autocommit=True) as conn:
            refresh_rollups(conn)
            _summary(
                conn, published.messages, published.wall_s, len(faults), pg.url, broker.url, data
            )
        detected = _detect(pg.url, start, end, faults, settings)
        summary = _finish(pg.url, data, start, end, published, len(faults), detected, args)
        return 0 if summary["readings"] > 0 else 1
    except KeyboardInterrupt:
        _say("interrupted: stopping cleanly")
        return 130
    finally:
        if broker is not None:
            broker.stop()
        pg.stop()


def _faults(
    city: Any, start: datetime, end: datetime, *, rate: float, seed: int, showcase: bool = True
) -> list[Any]:
    """The showcase faults (with ``showcase``), then random ones on the other devices."""
    from simulator import random_faults

    faults = _showcase(city, start, end) if showcase else []
    taken = {d for f in faults for d in f.devices}
    return faults + [
        f
        for f in random_faults(city, start=start, end=end, rates=rate, seed=seed)
        if not taken.intersection(f.devices)
    ]


def _showcase(city: Any, start: datetime, end: datetime) -> list[Any]:
    """Three faults every run shows (a stuck signal, smog, a dead camera) near the end."""
    from simulator import faults_from_spec

    span = (end - start).total_seconds()

    def at(fraction: float) -> str:
        return f"{int(span * fraction)}s"

    spec = {
        "faults": [
            {"type": "stuck_phase", "device": "tl-kirova-teatralnaya", "at": at(0.55),
             "duration": "12m", "id": "demo-stuck"},
            {"type": "air_quality_exceedance", "device": "eco-leninsky-1", "at": at(0.45),
             "duration": "50m", "id": "demo-smog"},
            {"type": "camera_offline", "device": "cam-kirova-pushkina-n", "at": at(0.6),
             "duration": "25m", "id": "demo-camera"},
        ]
    }  # fmt: skip
    return list(faults_from_spec(spec, city, start=start, end=end, seed=1))


def _summary(
    conn: object, messages: int, wall_s: float, faults: int, db_url: str, mqtt_url: str, data: Path
) -> None:
    from citypulse.db import count_readings, scalar

    c: Any = conn
    kinds = c.execute("SELECT kind, count(*) FROM devices GROUP BY 1 ORDER BY 1").fetchall()
    counts = {k.value: n for k, n in count_readings(c).items()}
    dead = c.execute(
        "SELECT reason, count(*) FROM dead_letters GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    offline = scalar(c, "SELECT count(*) FROM devices WHERE online IS false")
    worst = c.execute(
        "SELECT device_id, round(max(pm25_max)::numeric, 1) FROM ecology_1h "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    print()
    print("citypulse demo — what happened")
    print(f"  devices:    {sum(n for _, n in kinds)} ({', '.join(f'{n} {k}' for k, n in kinds)})")
    print(f"  published:  {messages:,} MQTT messages in {wall_s:.0f} s, {faults} injected faults")
    print("  stored:     " + ", ".join(f"{n:,} {k}" for k, n in counts.items()) + " readings")
    print(
        "  rejected:   "
        + (", ".join(f"{n} {r}" for r, n in dead) or "nothing")
        + " (kept in dead_letters with the raw payload)"
    )
    print(f"  offline:    {offline} devices reported offline (last will or status)")
    if worst:
        print(f"  air:        highest hourly PM2.5 peak {worst[1]} µg/m³ at {worst[0]}")
    print(f"  truth:      {data / 'ground-truth.jsonl'} lists every injected fault")
    print(f"  database:   {db_url} (was running during the demo; data kept in {data})")
    print(f"  broker:     {mqtt_url}")


def _detect(
    url: str, start: datetime, end: datetime, faults: list[Any], settings: Settings
) -> dict[str, Any]:
    """Run the detector set over the stored hours and compare with the injected faults."""
    from appeals import appeal_writer
    from detectors._worker import replay
    from lab._eval_scenario import Truth, load_incidents, score

    _say("detecting ...")
    report = replay(
        database_url=url,
        start=start,
        end=end + timedelta(minutes=1),
        listener=appeal_writer(settings),
        worker_id="demo",
    )
    truth = [Truth.from_json(f.ground_truth()) for f in faults]
    result = score(truth, load_incidents(url), start=start.timestamp(), end=end.timestamp())
    by_type: dict[str, int] = {}
    for t, (n, _) in result.by_incident_type.items():
        by_type[t] = n
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(by_type.items(), key=lambda kv: -kv[1]))
    print(f"  incidents:  {report.opened} opened ({kinds or 'none'})")
    found = sum(s.found for s in result.by_type.values())
    pairs = sum(s.pairs for s in result.by_type.values())
    print(
        f"  detection:  {found} of {pairs} injected fault/device pairs found; "
        f"{result.explained} of {result.incidents} incidents explained by a fault "
        "(detectors start cold here: slow faults such as drift need a day of history)"
    )
    return {
        "opened": report.opened,
        "resolved": report.resolved,
        "faults_found": found,
        "fault_pairs": pairs,
        "explained": result.explained,
        "incidents": result.incidents,
    }


_APPEALS = """
SELECT a.id, a.sector, a.title, a.description, a.agency, a.expected_at
FROM appeals a WHERE a.source = 'sensor' AND a.requested_at >= %s
ORDER BY a.priority DESC, a.id LIMIT 3
"""


def _finish(
    url: str,
    data: Path,
    start: datetime,
    end: datetime,
    published: Any,
    faults: int,
    detected: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Appeals, the HTML report, summary.json, and the API (kept up on a terminal)."""
    import json
    import os
    import secrets

    from appeals import load_routing
    from citypulse.db import connect
    from lab._report import write_report

    with connect(url, autocommit=True) as conn:
        run_start = conn.execute("SELECT min(opened_at) FROM incidents").fetchone()
        sectors = conn.execute(
            "SELECT sector, count(*) FROM appeals WHERE source = 'sensor' "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        since = run_start[0] if run_start and run_start[0] else end
        samples = conn.execute(_APPEALS, (since,)).fetchall()
        report = write_report(conn, data / "report.html", start=start, end=end)
        open_incidents = conn.execute(
            "SELECT count(*) FROM incidents WHERE status = 'open'"
        ).fetchone()
    total = sum(n for _, n in sectors)
    print(
        f"  appeals:    {total} created from incidents"
        + (f" ({', '.join(f'{n} {s}' for s, n in sectors)})" if sectors else "")
    )
    zone = load_routing().zone
    for _id, sector, title, description, agency, due in samples:
        print(f"    №{_id} [{sector}] {title}")
        for line in description.splitlines():
            if line.strip() and not line.startswith(title):
                print(f"        {line}")
        if agency:
            deadline = f"{due.astimezone(zone):%d.%m %H:%M}" if due else "—"
            print(f"        → {agency}, срок: {deadline}")
    print(f"  report:     {report.path} (open it in a browser: traffic, air, incidents map)")
    summary = {
        "devices": report.devices,
        "readings": report.readings,
        "messages": published.messages,
        "faults": faults,
        "incidents_opened": detected["opened"],
        "incidents_resolved": detected["resolved"],
        "incidents_open": int(open_incidents[0]) if open_incidents else 0,
        "appeals": total,
        "report": str(report.path),
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    (data / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))

    serve = args.serve == "yes" or (args.serve == "auto" and sys.stdin.isatty())
    key = secrets.token_urlsafe(24)
    key_file = data / "operator-key.txt"
    key_file.write_text(key + "\n")
    os.chmod(key_file, 0o600)
    grafana = (
        "  grafana:    in a Grafana 12, provision grafana/provisioning/ (datasource + "
        "dashboards) pointing at the database above, or run\n"
        "              CITYPULSE_DATABASE_URL=<db> citypulse grafana publish --url "
        "http://localhost:3000 --token <service-account token>"
    )
    print(grafana)
    if not serve:
        print("  api:        citypulse serve (run the demo on a terminal to keep it up)")
        return summary
    _serve(url, args.port, key_file)
    return summary


def _serve(url: str, port: int, key_file: Path) -> None:
    from appeals import Api, KeyStore, load_routing, open_pool, serve_in_thread
    from citypulse import Secret
    from lab._embedded import free_port

    try:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
    except OSError:
        port = free_port()
    key = key_file.read_text().strip()
    pool = open_pool(url, max_size=4, application_name="citypulse-demo-api")
    try:
        app = Api(
            pool=pool,
            routing=load_routing(),
            keys=KeyStore(bootstrap=(Secret(f"operator:{key}"),)),
            connectors=(),
        ).app()
        with serve_in_thread(app, port=port) as base:
            print(f"  api:        {base}/open311/v2/requests.json (Open311 GeoReport v2)")
            print(f"              {base}/open311/v2/services.json, {base}/openapi.json")
            print(
                f"              operator actions: POST {base}/api/v1/appeals/<id>/accept "
                f"with X-API-Key from {key_file}"
            )
            print("  Ctrl-C stops the API, the broker and the database; data stays.")
            while True:
                time.sleep(3600)
    finally:
        pool.close(timeout=5.0)
