"""Run citypulse on embedded defaults: nothing to install or configure but Python.

Starts a private PostgreSQL (plain-PostgreSQL schema mode) and an MQTT broker (the local
Mosquitto, else amqtt for a demo feed) in a data folder, registers the preset city
(Kaluga's centre), simulates the last few hours with injected faults at high speed
through MQTT into the ingest worker, runs the detector set over what was stored (as
``citypulse detect --from/--to`` does), turning incidents into appeals with Russian
texts dated by their evidence, adds citizens' appeals, tension points and the weekly
analysis (:mod:`lab._demo_citizens`), serves the Open311 API over them and writes a
static HTML report.  It ends with a
summary (also written as ``summary.json``) and, on a terminal or with ``--serve yes``,
keeps the API and the operators' console up until Ctrl-C, printing the console's address
and an operator key; the showcase faults leave appeals open to work there.  Ctrl-C stops
everything cleanly.

Each run gets a fresh database and broker state: the previous run's database is dropped
(or, with ``--keep``, kept beside it under another name), because two simulations of
overlapping hours in one database interleave, and every count, listing and detection
score of the run would mix them.  The data stays in the folder after the run, until the
next one.  Wrong option values are refused when the arguments are parsed, before any
server starts.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citypulse import (
    LOCALES,
    FloatRange,
    IntRange,
    MqttUrl,
    Settings,
    folder,
    non_negative_int,
)
from lab._demo_serve import serve_demo
from lab._say import say

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from lab._embedded import EmbeddedPostgres

HELP = "run the whole system on embedded defaults"

DATA_DIR = Path(".citypulse/demo")
HOURS = 6.0
FAULTS = 12.0
SEED = 7
PORT = 8311


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=folder,
        default=DATA_DIR,
        help=f"where the embedded servers keep their data (default {DATA_DIR})",
    )
    parser.add_argument(
        "--hours",
        type=FloatRange(1.0, 720.0),
        default=HOURS,
        help=f"simulated hours, ending now: 1 (the showcase faults take an hour) to 720 "
        f"(default {HOURS:g})",
    )
    parser.add_argument(
        "--faults",
        type=FloatRange(0.0, 1000.0),
        default=FAULTS,
        help=f"random faults per simulated day, 0 to 1000 (default {FAULTS:g})",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=SEED, help=f"simulation seed (default {SEED})"
    )
    parser.add_argument(
        "--serve",
        choices=("auto", "yes", "no"),
        default="auto",
        help="keep the API and the operators' console up after the summary until Ctrl-C "
        "(auto: when on a terminal)",
    )
    parser.add_argument(
        "--port",
        type=IntRange(1, 65535),
        default=PORT,
        help=f"API port (default {PORT}, or a free one when it is taken)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the previous run's database beside this run's, renamed "
        "citypulse_<time of its last reading>, instead of dropping it",
    )
    parser.add_argument(
        "--locale",
        choices=LOCALES,
        help="language of the report and the appeals: ru or en (default CITYPULSE_LOCALE, "
        "else the routing file's locale)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse.db import connect, migrate, refresh_rollups, upsert_devices
    from ingest import IngestConfig, IngestWorker
    from lab._demo_citizens import citizens_and_analysis
    from lab._embedded import (
        EmbeddedAmqtt,
        EmbeddedMosquitto,
        EmbeddedPostgres,
        start_broker,
    )
    from simulator import Simulation, preset_city, publish, write_ground_truth

    _interrupt_on_signals()
    settings = settings.with_overrides(locale=args.locale)  # the flag wins over the environment
    if settings.log_level == "INFO":  # the default: keep the progress lines readable
        for name in ("ingest", "citypulse.db", "detectors._incidents"):
            logging.getLogger(name).setLevel(logging.WARNING)
    data: Path = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    say(f"data folder: {data}")
    pg = EmbeddedPostgres(data / "postgres")
    broker: EmbeddedMosquitto | EmbeddedAmqtt | None = None
    try:
        say("starting PostgreSQL ...")
        pg.start()
        kept = _fresh_database(pg, keep=args.keep)
        # Retained messages and queued sessions belong to the previous run too.
        (data / "mosquitto" / "mosquitto.db").unlink(missing_ok=True)
        say("starting the MQTT broker ...")
        broker = start_broker(data / "mosquitto")
        if not broker.full_mqtt:
            say(
                "  Mosquitto is not installed: using amqtt, a demo-only broker "
                "(MQTT 3.1.1, no shared subscriptions, no redelivery)"
            )
        with connect(pg.url, autocommit=True) as conn:
            report = migrate(conn, mode="plain")
        say(f"schema: {report.mode} mode, {len(report.applied)} migrations applied now")

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
                say("ingest could not subscribe to the broker")
                return 1
            say(
                f"simulating {args.hours:g} h of {len(sim.devices)} devices with "
                f"{len(faults)} faults ..."
            )

            def progress(p: object) -> None:
                say(
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
        analysis = citizens_and_analysis(
            pg.url, data, city, faults, start=start, end=end, settings=settings, seed=args.seed
        )
        summary = _finish(
            pg.url,
            data,
            start,
            end,
            published,
            len(faults),
            detected,
            args,
            settings,
            kept=kept,
            mqtt=mqtt,
            analysis=analysis,
        )
        return 0 if summary["readings"] > 0 else 1
    except KeyboardInterrupt:
        say("interrupted: stopping cleanly")
        return 130
    finally:
        if broker is not None:
            broker.stop()
        pg.stop()


def _interrupt_on_signals() -> None:
    """SIGTERM (a service manager, ``kill``) stops the demo as Ctrl-C does, through the
    same clean shutdown of the API, the broker and PostgreSQL; SIGINT is restored too,
    since a background job started by a non-interactive shell inherits it ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _fresh_database(pg: EmbeddedPostgres, *, keep: bool) -> str:
    """Make ``citypulse`` in ``pg`` an empty database for this run.

    The previous run's is dropped or, with ``keep``, renamed ``citypulse_<UTC time of its
    last reading>``; that name is returned ("" when nothing was kept).  An empty database
    (a first run) is left as it is.
    """
    import psycopg
    from psycopg import sql

    from citypulse.db import READING_TABLES

    with psycopg.connect(pg.url) as conn:
        if not conn.execute(_ANY_TABLE).fetchone():
            return ""
        times: list[datetime] = []
        for table in READING_TABLES.values():
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
                continue
            query = sql.SQL("SELECT max(time) FROM {}").format(sql.Identifier(table))
            times += [t for (t,) in conn.execute(query) if t is not None]
        last = max(times, default=datetime.now(UTC))
    with psycopg.connect(pg.database_url("postgres"), autocommit=True) as admin:
        kept = ""
        if keep:
            taken = {r[0] for r in admin.execute("SELECT datname FROM pg_database")}
            kept = name = f"citypulse_{last.astimezone(UTC):%Y%m%d_%H%M%S}"
            n = 1
            while kept in taken:
                n += 1
                kept = f"{name}_{n}"
            admin.execute(
                sql.SQL("ALTER DATABASE citypulse RENAME TO {}").format(sql.Identifier(kept))
            )
            say(f"the previous run's database is kept as {kept}")
        else:
            # Not WITH (FORCE): a session someone still has open should stop us, not die.
            admin.execute("DROP DATABASE citypulse")
            say("the previous run's database was dropped (--keep keeps it)")
        admin.execute("CREATE DATABASE citypulse")
    return kept


_ANY_TABLE = """
SELECT 1 FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') LIMIT 1
"""


def _faults(
    city: Any,
    start: datetime,
    end: datetime,
    *,
    rate: float | Mapping[Any, float],
    seed: int,
    showcase: bool = True,
) -> list[Any]:
    """The showcase faults (with ``showcase``), then random ones on the other devices
    (``rate`` per simulated day in total, or per fault type)."""
    from simulator import random_faults

    faults = _showcase(city, start, end) if showcase else []
    taken = {d for f in faults for d in f.devices}
    return faults + [
        f
        for f in random_faults(city, start=start, end=end, rates=rate, seed=seed)
        if not taken.intersection(f.devices)
    ]


def _showcase(city: Any, start: datetime, end: datetime) -> list[Any]:
    """Four faults every run shows: a dark signal in its first half that citizens see too
    (their report comes after the sensors' appeal: sensors first), in its second half a
    stuck signal the sensors see resolved, and smog and a dead camera still going on at
    the end, so that their appeals stay open for an operator to accept."""
    from simulator import faults_from_spec

    span = (end - start).total_seconds()

    def at(fraction: float) -> str:
        return f"{int(span * fraction)}s"

    def past_the_end(fraction: float) -> str:
        return f"{int(span * (1 - fraction)) + 3600}s"

    spec = {
        "faults": [
            {"type": "power_loss", "device": "tl-lenina-pushkina", "at": at(0.2),
             "duration": "35m", "id": "demo-dark"},
            {"type": "stuck_phase", "device": "tl-kirova-teatralnaya", "at": at(0.55),
             "duration": "12m", "id": "demo-stuck"},
            {"type": "air_quality_exceedance", "device": "eco-leninsky-1", "at": at(0.25),
             "duration": past_the_end(0.25), "id": "demo-smog"},
            {"type": "camera_offline", "device": "cam-kirova-pushkina-n", "at": at(0.6),
             "duration": past_the_end(0.6), "id": "demo-camera"},
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
    print(f"  database:   {db_url} (up while the demo runs; the data stays in {data})")
    print(f"  broker:     {mqtt_url}")


def _detect(
    url: str, start: datetime, end: datetime, faults: list[Any], settings: Settings
) -> dict[str, Any]:
    """Run the detector set over the stored hours and compare with the injected faults."""
    from appeals import appeal_writer
    from detectors._replay import replay
    from lab._eval_scenario import Truth, load_incidents, score

    say("detecting ...")
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
    if result.missed:
        from appeals import load_routing
        from citypulse.db import connect

        zone = load_routing(settings.routing_file).zone
        with connect(url) as conn:
            for fault, device in result.missed:
                print("  missed:     " + missed_line(conn, fault, device, zone))
    return {
        "opened": report.opened,
        "resolved": report.resolved,
        "faults_found": found,
        "fault_pairs": pairs,
        "explained": result.explained,
        "incidents": result.incidents,
    }


def missed_line(conn: Any, fault: Any, device: str, zone: ZoneInfo) -> str:
    """One fault the detectors did not find: what, where, when in the region's zone, and
    why, where the stored readings show that nothing could have told it from normal."""
    from appeals import zone_label

    onset = datetime.fromtimestamp(fault.onset(device), UTC)
    minutes = round((fault.end - onset.timestamp()) / 60)
    line = (
        f"{fault.type} on {device} from {onset.astimezone(zone):%d.%m %H:%M} "
        f"{zone_label(zone, onset, 'en')} for {minutes} min"
    )
    if fault.type == "camera_frozen":
        counted, reports = conn.execute(
            "SELECT max(intensity), count(*) FROM camera_readings "
            "WHERE device_id = %s AND time >= to_timestamp(%s) AND time < to_timestamp(%s)",
            (device, onset.timestamp(), fault.end),
        ).fetchone()
        if reports and not counted:
            line += (
                ": it froze on a report of an empty street (no vehicles), which a quiet "
                "street repeats too; Collapse finds it once traffic is due and none comes"
            )
    return line


_APPEALS = """
SELECT id, sector, title, description, agency, expected_at FROM appeals
WHERE source = 'sensor' ORDER BY priority DESC, id LIMIT 3
"""


_OPEN_APPEALS = """
SELECT id, status, title FROM appeals
WHERE source = 'sensor' AND status = ANY(%s) ORDER BY priority DESC, id
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
    settings: Settings,
    *,
    kept: str,
    mqtt: MqttUrl,
    analysis: dict[str, Any],
) -> dict[str, Any]:
    """Appeals, the HTML report, summary.json and commands to try, which work as printed:
    while serving, against the API and database kept up until Ctrl-C."""
    import json
    import os
    import secrets

    from psycopg.rows import dict_row

    from appeals import load_routing
    from citypulse import AppealStatus
    from citypulse.db import connect
    from lab._report import write_report
    from lab._report_words import Words

    routing = load_routing(settings.routing_file)
    with connect(url, autocommit=True) as conn:
        sectors = conn.execute(
            "SELECT sector, count(*) FROM appeals WHERE source = 'sensor' "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        samples = conn.execute(_APPEALS).fetchall()
        report = write_report(
            conn,
            data / "report.html",
            start=start,
            end=end,
            routing=routing,
            locale=settings.locale,  # else the routing file's
        )
        open_incidents = conn.execute(
            "SELECT count(*) FROM incidents WHERE status = 'open'"
        ).fetchone()
        still_open = (
            conn.cursor(row_factory=dict_row)
            .execute(_OPEN_APPEALS, ([s.value for s in AppealStatus if s.is_open],))
            .fetchall()
        )
    total = sum(n for _, n in sectors)
    print(
        f"  appeals:    {total} created from incidents"
        + (f" ({', '.join(f'{n} {s}' for s, n in sectors)})" if sectors else "")
    )
    words = Words(settings.locale or routing.locale, routing.zone)
    for _id, sector, title, description, agency, due in samples:
        print(f"    №{_id} [{sector}] {title}")
        for line in description.splitlines():
            if line.strip() and not line.startswith(title):
                print(f"        {line}")
        if agency:
            print(f"        → {agency}, {words.due(due)}")
    if still_open:
        listed = ", ".join(f"№{a['id']} ({a['status']})" for a in still_open)
        print(f"  open:       {listed}: still going on, waiting for an operator")
    else:
        print("  open:       none: the sensors saw every fault end")
    print(f"  report:     {report.path} (open it in a browser: traffic, air, incidents map)")
    key_file = data / "operator-key.txt"
    key_file.write_text(secrets.token_urlsafe(24) + "\n")
    os.chmod(key_file, 0o600)
    summary = {
        "devices": report.devices,
        "readings": report.readings,
        "messages": published.messages,
        "faults": faults,
        "faults_found": detected["faults_found"],
        "fault_pairs": detected["fault_pairs"],
        "incidents_opened": detected["opened"],
        "incidents_resolved": detected["resolved"],
        "incidents_open": int(open_incidents[0]) if open_incidents else 0,
        "appeals": total,
        "open_appeals": still_open,
        "report": str(report.path),
        "start": start.isoformat(),
        "end": end.isoformat(),
        **analysis,
        "kept": kept or None,
        "database": url,
        "api": None,
        "commands": [],
    }

    def write() -> None:
        (data / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))

    if not (args.serve == "yes" or (args.serve == "auto" and sys.stdin.isatty())):
        summary["commands"] = [_rerun(args, data)]
        print(f"  api:        {summary['commands'][0]}")
        print("              (runs the demo again and keeps the API and the operators'")
        print("              console up until Ctrl-C; it prints the console's address and key)")
        print("  grafana:    provision grafana/provisioning/ against the demo's database")
        write()
        return summary
    with serve_demo(url, args.port, key_file, settings, mqtt) as base:
        tries = _tries(base, url, key_file, still_open[0]["id"] if still_open else None)
        cli = shlex.quote(_script("citypulse"))
        grafana = (
            f"CITYPULSE_GRAFANA_DB_USER=postgres {cli} --database-url {url} grafana publish "
            '--url http://localhost:3000 --token "$GRAFANA_TOKEN"'
        )
        summary.update(api=base, commands=[*tries, grafana])
        write()
        print(f"  console:    {base}/console/ — sign in with the operator key")
        print(f"              {key_file.read_text().strip()} (also in {key_file})")
        print(f"  api:        {base}/open311/v2/requests.json (Open311 GeoReport v2)")
        print(f"              {base}/openapi.json; operators' key in {key_file}")
        labels = ["try:"] + [""] * (len(tries) - 1)
        for label, command in zip(labels, tries, strict=True):
            print(f"  {label:<12}{command}")
        print(f"  grafana:    {grafana}")
        print("              (a Grafana 12 on this machine with a service-account token in")
        print("              GRAFANA_TOKEN; or provision grafana/provisioning/)")
        try:  # the last line is the reader's cue to stop us: be ready for it before it shows
            print(
                "  Ctrl-C stops the API, the broker and the database; the data stays.", flush=True
            )
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            say("stopping ...")
    return summary


def _tries(base: str, url: str, key_file: Path, appeal: int | None) -> list[str]:
    """Commands to try while the demo serves: the API with curl (an operator accepting
    ``appeal``, still open), then the CLI on the demo's database."""
    key = f'"X-API-Key: $(cat {shlex.quote(str(key_file))})"'
    tries = [f"curl -s {base}/open311/v2/requests.json"]
    if appeal is not None:
        one = f"{base}/api/v1/appeals/{appeal}"
        tries += [f"curl -s -X POST -H {key} {one}/accept", f"curl -s -H {key} {one}"]
    return [*tries, f"{shlex.quote(_script('citypulse'))} --database-url {url} db status"]


#: the checkout this module is in, when it runs from one (scripts/ beside the packages)
_CHECKOUT = Path(__file__).resolve().parents[1]


def _script(name: str) -> str:
    """How to run ``scripts/<name>`` from the folder the demo runs in (the checkout's root
    under scripts/demo): relative below it, absolute elsewhere, and the installed
    ``citypulse`` where there is no checkout."""
    path = _CHECKOUT / "scripts" / name
    if not path.exists():
        return "citypulse" if name == "citypulse" else f"citypulse {name}"
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def _rerun(args: argparse.Namespace, data: Path) -> str:
    """The command that runs this demo again, serving: how to reach the API after a run
    that did not serve."""
    script = _script("demo")
    # scripts/demo runs in the checkout's root, citypulse demo in the current folder
    here = _CHECKOUT if script.endswith("scripts/demo") else Path.cwd()
    words = [script] if script.endswith("scripts/demo") else script.split()
    if data != (here / DATA_DIR).resolve():
        words += ["--data-dir", str(data)]
    for flag, value, default in (
        ("--hours", args.hours, HOURS),
        ("--faults", args.faults, FAULTS),
        ("--seed", args.seed, SEED),
        ("--port", args.port, PORT),
    ):
        if value != default:
            words += [flag, format(value, ".12g")]
    if args.keep:
        words.append("--keep")
    return shlex.join([*words, "--serve", "yes"])
