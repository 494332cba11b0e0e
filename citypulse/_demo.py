"""Run citypulse on embedded defaults: nothing to install or configure but Python.

Starts a private PostgreSQL (plain-PostgreSQL schema mode) and Mosquitto in a data folder,
registers the preset city (Kaluga's centre), simulates the last few hours with faults at
high speed through MQTT into `citypulse ingest`, and prints what was stored.  Data stays in
the folder for the next run; Ctrl-C stops everything cleanly.

Then the detector set runs over what was stored (``citypulse detect --from/--to``),
opening incidents (through the appeals listener when that is built) and the summary
compares them with the injected faults.  Appeals and the API join this summary with
their issues.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from citypulse._settings import MqttUrl, Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".citypulse/demo"),
        help="where the embedded servers keep their data (default .citypulse/demo)",
    )
    parser.add_argument(
        "--hours", type=float, default=6.0, help="simulated hours, ending now (default 6)"
    )
    parser.add_argument(
        "--faults", type=float, default=12.0, help="random faults per simulated day (default 12)"
    )
    parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse._embedded import (
        EmbeddedAmqtt,
        EmbeddedMosquitto,
        EmbeddedPostgres,
        start_broker,
    )
    from citypulse.db import connect, migrate, refresh_rollups, upsert_devices
    from citypulse.simulator import Simulation, preset_city, random_faults, write_ground_truth
    from citypulse.simulator._publish import publish
    from ingest._worker import IngestConfig, IngestWorker

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
        faults = random_faults(city, start=start, end=end, rates=args.faults, seed=args.seed)
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
            deadline = time.monotonic() + 120
            while (
                worker.counters.totals()["received"] < published.messages - published.wills
                and time.monotonic() < deadline
            ):
                time.sleep(0.2)
            time.sleep(1.0)
        with connect(pg.url, autocommit=True) as conn:
            refresh_rollups(conn)
            _summary(
                conn, published.messages, published.wall_s, len(faults), pg.url, broker.url, data
            )
        _detect(pg.url, start, end, faults, settings)
        return 0
    except KeyboardInterrupt:
        _say("interrupted: stopping cleanly")
        return 130
    finally:
        if broker is not None:
            broker.stop()
        pg.stop()


def _summary(
    conn: object, messages: int, wall_s: float, faults: int, db_url: str, mqtt_url: str, data: Path
) -> None:

    c: Any = conn
    kinds = c.execute("SELECT kind, count(*) FROM devices GROUP BY 1 ORDER BY 1").fetchall()
    counts = {
        t: c.execute(f"SELECT count(*) FROM {t}_readings").fetchone()[0]  # noqa: S608
        for t in ("traffic_light", "camera", "parking", "ecology")
    }
    dead = c.execute(
        "SELECT reason, count(*) FROM dead_letters GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    offline = c.execute("SELECT count(*) FROM devices WHERE online IS false").fetchone()[0]
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
) -> None:
    """Run the detector set over the stored hours and compare with the injected faults."""
    from detectors._cli import DEFAULT_LISTENER, load_listener
    from detectors._eval_scenario import Truth, load_incidents, score
    from detectors._worker import replay

    _say("detecting ...")
    report = replay(
        database_url=url,
        start=start,
        end=end + timedelta(minutes=1),
        listener=load_listener(DEFAULT_LISTENER, settings),
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
