"""Score the city detector set on a simulated city with injected faults.

Simulates the preset city (Kaluga's centre, 89 devices) for a warm-up without faults
(default one day: detectors learn each device's normal behaviour, as they would have
in service) followed by the scored period (default a week, --quick a day) with random
faults of every type, stores everything through ingest's own decoder and sink (direct
database writes: malformed payloads become dead letters exactly as in service), or with
--mqtt through a private Mosquitto and an ingest worker (slower), runs the detector set
over the stored history by reading time (``citypulse detect --from/--to``: the same
monitors, trackers and incident store as the live worker) and compares the incidents
with the ground truth.

A fault is found on a device when an incident of an accepted type (see ``ACCEPT``)
starts on it between the fault's onset there (minus a minute) and its end (plus ten
minutes), or is already open at the onset.  Incidents of the types in ``ALSO`` in that
window are explained by the fault (they do not count against precision) but do not
find it.  Recall counts (fault, device) pairs; precision counts incidents started in
the scored period that some fault explains; delay is the incident's start (the reading
time of its first alarm) minus the onset, in simulated time.  The faults whose
signature is immediate are marked ``*`` in the table: the target is a median delay of
at most two simulated minutes for them.

Runs its own PostgreSQL in a temporary folder unless --use-database is given (then the
database from CITYPULSE_DATABASE_URL, migrated and empty, is used).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from citypulse import (
    ConfigError,
    Settings,
    iso_time,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    seed_list,
    severity_list,
)
from lab._say import say

# Incident types that count as finding each fault type (recall).  A camera frozen on an
# empty-street report is indistinguishable from a blinded one, so either type finds it.
ACCEPT: Mapping[str, tuple[str, ...]] = {
    "stuck_phase": ("stuck_phase",),
    "flashing_yellow": ("signal_flashing",),
    "lamp_failure": ("lamp_fault",),
    "power_loss": ("device_silent",),
    "camera_offline": ("device_silent",),
    "camera_frozen": ("frozen_values", "camera_obstructed"),
    "camera_obstructed": ("camera_obstructed",),
    "congestion": ("congestion",),
    "parking_stuck": ("parking_stuck",),
    "parking_full": ("parking_full",),
    "air_quality_exceedance": ("air_quality_exceedance",),
    "sensor_drift": ("sensor_drift",),
    "spike": ("anomaly",),
    "malformed_payload": ("invalid_data",),
    "wrong_units": ("invalid_data",),
}
# Incident types a fault also explains without finding it (precision only): a PM2.5
# value drifting upwards for hours really is over the СанПиН limit.  A spike is one
# reading, never a 20-minute mean over a limit, so it explains no exceedance.
ALSO: Mapping[str, tuple[str, ...]] = {
    "sensor_drift": ("air_quality_exceedance",),
}
HELP = "score incidents on a simulation"
IMMEDIATE = frozenset(
    {
        "flashing_yellow",
        "lamp_failure",
        "power_loss",
        "camera_offline",
        "camera_obstructed",
        "spike",
        "malformed_payload",
        "wrong_units",
    }
)
EARLY_S = 60.0
LATE_S = 600.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--days", type=positive_float, default=7.0, help="scored simulated days (7)"
    )
    parser.add_argument(
        "--warmup-days", type=non_negative_float, default=1.0, help="fault-free lead-in (1)"
    )
    parser.add_argument(
        "--rate", type=non_negative_float, default=12.0, help="random faults per day (12)"
    )
    parser.add_argument("--seed", type=non_negative_int, default=1)
    parser.add_argument(
        "--severity",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="scale on every fault magnitude (1 = the simulator's documented ranges)",
    )
    parser.add_argument(
        "--start",
        type=iso_time,
        default="2026-03-02T00:00:00+03:00",
        help="start of the scored period",
    )
    parser.add_argument("--use-database", action="store_true", help="use CITYPULSE_DATABASE_URL")
    parser.add_argument("--truth", type=Path, help="also write the ground truth JSONL here")
    parser.add_argument("--multivariate", choices=("none", "hst", "iforest"), default="none")
    parser.add_argument(
        "--set",
        dest="settings",
        type=city_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one threshold of the city set for this evaluation, e.g. collapse_expected=12 "
        "(repeatable; the names are CityConfig's numeric fields)",
    )
    parser.add_argument(
        "--mqtt",
        action="store_true",
        help="publish through a private Mosquitto and ingest (slower) instead of direct writes",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="the detection curve: severities 0.25, 0.5, 1 and 2 and a fault-free run over "
        "--seeds (a benchmark: tens of minutes)",
    )
    parser.add_argument(
        "--seeds", type=seed_list, default=(1, 2, 3), help="seeds of --sweep (1,2,3)"
    )
    parser.add_argument(
        "--severities",
        type=severity_list,
        default=None,
        metavar="S,S,...",
        help="severities of --sweep (0.25,0.5,1,2); its fault-free run comes with any",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="with --sweep: scenarios run at once, a process each (1)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.svg",
        help="with --sweep: also draw recall against severity per fault type as SVG",
    )


def city_setting(text: str) -> tuple[str, float]:
    """``NAME=VALUE``: a numeric field of the city set's :class:`CityConfig` and a finite
    value, positive unless the field's default is 0, an ``int`` for a whole-number field."""
    from dataclasses import fields

    from detectors._city import CityConfig

    name, sep, raw = text.partition("=")
    name = name.strip()
    known = {
        f.name: f for f in fields(CityConfig) if f.type in ("float", "int") and f.name != "seed"
    }
    if not sep or name not in known:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with NAME one of {', '.join(sorted(known))}; got {text!r}"
        )
    spec = known[name]
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: not a number: {raw!r}") from None
    zero_ok = spec.default == 0
    if not math.isfinite(value) or value < 0.0 or (value == 0.0 and not zero_ok):
        need = "0 or more" if zero_ok else "more than 0"
        raise argparse.ArgumentTypeError(f"{name}: must be a finite number {need}, got {raw!r}")
    if spec.type == "int":
        if value != int(value):
            raise argparse.ArgumentTypeError(f"{name}: must be a whole number, got {raw!r}")
        return name, int(value)
    return name, value


def describe_settings(settings: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in settings.items())


def city_config(settings: Sequence[tuple[str, float]], **fixed: Any) -> Any:
    """The :class:`CityConfig` of an evaluation: ``--set`` values (as :func:`city_setting`
    gives them; the last of a name wins) over the defaults."""
    from detectors._city import CityConfig

    return CityConfig(**{**dict(settings), **fixed})


# --- scoring (pure) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Truth:
    id: str
    type: str
    devices: tuple[str, ...]
    start: float
    end: float
    onsets: Mapping[str, float] = field(default_factory=dict)

    def onset(self, device: str) -> float:
        return self.onsets.get(device, self.start)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Truth:
        def ts(v: str) -> float:
            return datetime.fromisoformat(v).timestamp()

        return cls(
            str(obj["id"]),
            str(obj["type"]),
            tuple(obj["devices"]),
            ts(obj["start"]),
            ts(obj["end"]),
            {k: ts(v) for k, v in (obj.get("onsets") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Found:
    """An incident as the scorer sees it."""

    id: int
    type: str
    device: str
    started: float
    resolved: float | None = None


@dataclass(slots=True)
class TypeScore:
    pairs: int = 0
    found: int = 0
    incidents: int = 0  # incidents explained by faults of this type
    covered: int = 0  # found by an incident already open at the onset
    delays: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.pairs if self.pairs else float("nan")


@dataclass(slots=True)
class Score:
    by_type: dict[str, TypeScore]
    incidents: int
    explained: int
    unexplained: list[Found]
    by_incident_type: dict[str, tuple[int, int]]  # incident type -> (all, explained)
    missed: list[tuple[Truth, str]] = field(default_factory=list)  # (fault, device) not found

    @property
    def precision(self) -> float:
        return self.explained / self.incidents if self.incidents else float("nan")

    @property
    def recall(self) -> float:
        pairs = sum(s.pairs for s in self.by_type.values())
        return sum(s.found for s in self.by_type.values()) / pairs if pairs else float("nan")

    def immediate_delays(self) -> list[float]:
        return [d for k, s in self.by_type.items() if k in IMMEDIATE for d in s.delays]


def score(truth: Sequence[Truth], incidents: Iterable[Found], *, start: float, end: float) -> Score:
    """Match incidents started in [start, end) with faults; see the module docstring."""
    scored = [i for i in incidents if start <= i.started < end]
    by_device: dict[str, list[Found]] = {}
    for inc in scored:
        by_device.setdefault(inc.device, []).append(inc)
    by_type: dict[str, TypeScore] = {}
    explained: set[int] = set()
    missed: list[tuple[Truth, str]] = []
    for f in truth:
        ts = by_type.setdefault(f.type, TypeScore())
        accept = ACCEPT.get(f.type, ())
        for device in f.devices:
            ts.pairs += 1
            onset = f.onset(device)
            candidates = [i for i in by_device.get(device, ()) if i.type in accept]
            hits = sorted(
                (i for i in candidates if onset - EARLY_S <= i.started <= f.end + LATE_S),
                key=lambda i: i.started,
            )
            # An incident of the type already open at the onset covers the fault too (one
            # open incident per device and type): found, but no delay to measure.
            covering = [
                i
                for i in candidates
                if i.started < onset - EARLY_S and (i.resolved is None or i.resolved >= onset)
            ]
            if hits:
                ts.found += 1
                ts.delays.append(max(0.0, hits[0].started - onset))
            elif covering:
                ts.found += 1
                ts.covered += 1
                hits = covering
            else:
                missed.append((f, device))
            also = ALSO.get(f.type, ())
            hits += [
                i
                for i in by_device.get(device, ())
                if i.type in also and onset - EARLY_S <= i.started <= f.end + LATE_S
            ]
            for h in hits:
                if h.id not in explained:
                    explained.add(h.id)
                    ts.incidents += 1
    per_itype: dict[str, tuple[int, int]] = {}
    for inc in scored:
        total, ok = per_itype.get(inc.type, (0, 0))
        per_itype[inc.type] = (total + 1, ok + (inc.id in explained))
    return Score(
        by_type=by_type,
        incidents=len(scored),
        explained=len(explained),
        unexplained=[i for i in scored if i.id not in explained],
        by_incident_type=per_itype,
        missed=missed,
    )


# --- running a scenario --------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    messages: int = 0
    readings: int = 0
    dead_letters: int = 0
    faults: int = 0
    store_s: float = 0.0
    detect_s: float = 0.0


def store_simulation(database_url: str, messages: Iterable[Any], *, batch: int = 5000) -> Run:
    """Decode and store simulator messages through ingest's decoder and sink, stamping
    each as received at its simulated time (so dead letters carry simulated times)."""
    from ingest import Decoder, Item, PostgresSink

    decoder = Decoder(retention=timedelta(days=3650))
    run = Run()
    began = time.monotonic()
    items: list[Any] = []
    with PostgresSink(database_url=database_url, worker_id="eval") as sink:

        def flush() -> None:
            result = sink.store(items)
            run.readings += result.stored
            run.dead_letters += sum(result.rejected.values())
            items.clear()

        for mid, m in enumerate(messages):
            at = datetime.fromtimestamp(m.t, UTC)
            items.append(
                Item(mid, 1, m.topic, m.payload, at, decoder.decode(m.topic, m.payload, at))
            )
            run.messages += 1
            if len(items) >= batch:
                flush()
                if run.messages % 200_000 < batch:
                    say(f"  stored {run.messages:,} messages ({run.readings:,} readings)")
        if items:
            flush()
    run.store_s = time.monotonic() - began
    return run


#: Corrupted payloads sent, by (topic, bytes): their simulated times, oldest first.
Corrupted = dict[tuple[str, bytes], deque[float]]


def _remember_corrupted(messages: Iterable[Any], corrupted: Corrupted) -> Iterator[Any]:
    """``messages`` as they are, keeping the simulated time of each corrupted one: its
    dead letter is stamped on arrival, and :func:`_place_dead_letters` moves it back."""
    for m in messages:
        if not m.valid:
            corrupted[(m.topic, m.payload)].append(m.t)
        yield m


def _place_dead_letters(database_url: str, corrupted: Corrupted) -> None:
    """Move each dead letter of a corrupted payload to the simulated time it was sent.
    (The simulation's other messages are valid: none of them becomes a dead letter.)"""
    from citypulse.db import connect

    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, topic, payload FROM dead_letters ORDER BY received_at, id"
        ).fetchall()
        ids, times = [], []
        for id_, topic, payload in rows:
            sent = corrupted.get((topic, bytes(payload)))
            if sent:
                ids.append(id_)
                times.append(sent.popleft())
        conn.execute(
            "UPDATE dead_letters SET received_at = to_timestamp(x.t) "
            "FROM unnest(%s::bigint[], %s::float8[]) AS x(id, t) WHERE dead_letters.id = x.id",
            (ids, times),
        )
        conn.commit()


def store_via_mqtt(database_url: str, sim: Any, directory: Path, *, speed: float = 600.0) -> Run:
    """Publish the simulation through a private Mosquitto into an in-process ingest worker.

    The publisher runs simulated time ``speed`` times faster than the wall clock, as a
    gateway publishing for every device.  What carries no reading time of its own is put
    where it happened: a power loss's offline status carries its time (the gateway
    stamps it), and each dead letter is moved to the simulated time its message was sent
    (:func:`_place_dead_letters`), so detection sees it as the direct path does, however
    loaded the machine.
    """
    from citypulse import MqttUrl
    from ingest import IngestConfig, IngestWorker
    from lab._embedded import EmbeddedMosquitto
    from simulator import publish

    run = Run()
    began = time.monotonic()
    corrupted: Corrupted = defaultdict(deque)
    broker = EmbeddedMosquitto(directory / "mosquitto").start()
    try:
        mqtt = MqttUrl.parse(broker.url)
        config = IngestConfig(
            database_url=database_url, mqtt=mqtt, client_id="eval-ingest", worker_id="eval"
        )
        with IngestWorker(config) as worker:
            if not worker.wait_connected(30):
                raise RuntimeError("ingest could not subscribe to the embedded broker")
            report = publish(
                _remember_corrupted(sim.messages(), corrupted),
                mqtt_url=mqtt,
                devices=sim.devices,
                mode="gateway",
                speed=speed,
            )
            worker.wait_total("received", report.messages - report.wills, 300, poll=0.2)
            time.sleep(1.0)
            totals = worker.counters.totals()
        run.messages = report.messages
        run.readings = int(totals["stored"])
        run.dead_letters = int(totals["rejected"])
    finally:
        broker.stop()
    _place_dead_letters(database_url, corrupted)
    run.store_s = time.monotonic() - began
    return run


def load_incidents(database_url: str) -> list[Found]:
    from psycopg.rows import class_row

    from citypulse.db import connect

    with connect(database_url) as conn:
        found = conn.cursor(row_factory=class_row(Found))
        return found.execute(
            "SELECT id, type, device_id AS device,"
            " extract(epoch FROM started_at)::float8 AS started,"
            " extract(epoch FROM resolved_at)::float8 AS resolved FROM incidents"
        ).fetchall()


def run_scenario(
    database_url: str,
    *,
    start: datetime,
    days: float,
    warmup_days: float,
    rate: float,
    seed: int,
    severity: float = 1.0,
    truth_path: Path | None = None,
    multivariate: str = "none",
    settings: Sequence[tuple[str, float]] = (),
    spec: Mapping[str, Any] | None = None,
    mqtt_dir: Path | None = None,
) -> tuple[Score, Run, list[Truth]]:
    """Simulate, store, detect and score on a migrated, empty database.

    ``spec`` (a parsed scenario document, see ``citypulse simulate``) replaces the
    random faults.  With ``mqtt_dir``, the messages go through a private Mosquitto and
    ingest (see :func:`store_via_mqtt`) instead of ingest's decoder and sink directly."""
    from citypulse.db import connect, upsert_devices
    from detectors._incidents import NullListener
    from detectors._replay import replay
    from simulator import (
        Simulation,
        faults_from_spec,
        preset_city,
        random_faults,
        write_ground_truth,
    )

    logging.getLogger("detectors._incidents").setLevel(logging.WARNING)
    city = preset_city()
    end = start + timedelta(days=days)
    lead = start - timedelta(days=warmup_days)
    faults = (
        random_faults(city, start=start, end=end, rates=rate, seed=seed, severity=severity)
        if spec is None
        else faults_from_spec(spec, city, start=start, end=end, seed=seed, severity=severity)
    )
    sim = Simulation(city, start=lead, end=end, seed=seed, faults=faults)
    if truth_path is not None:
        write_ground_truth(truth_path, faults)
    truth = [Truth.from_json(f.ground_truth()) for f in faults]
    with connect(database_url) as conn:
        upsert_devices(conn, sim.devices)
        conn.commit()
    say(f"storing {warmup_days:g} + {days:g} simulated days, {len(faults)} faults ...")
    if mqtt_dir is None:
        run = store_simulation(database_url, sim.messages())
    else:
        run = store_via_mqtt(database_url, sim, mqtt_dir)
    run.faults = len(faults)
    say(f"  {run.messages:,} messages stored in {run.store_s:.0f} s; detecting ...")
    began = time.monotonic()

    def progress(done: float, report: Any) -> None:
        if int(done * 100) % 10 == 0:
            say(f"  detect {done:5.0%}: {report.readings:,} readings, {report.opened} incidents")

    replay(
        database_url=database_url,
        start=lead,
        end=end,
        listener=NullListener(),
        config=city_config(settings, multivariate=multivariate, seed=seed),
        progress=progress,
    )
    run.detect_s = time.monotonic() - began
    result = score(
        truth, load_incidents(database_url), start=start.timestamp(), end=end.timestamp()
    )
    return result, run, truth


def _fmt(x: float, spec: str = ".3f") -> str:
    return "—" if x != x else format(x, spec)


def _median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def report_dict(result: Score, run: Run) -> dict[str, Any]:
    imm = result.immediate_delays()
    return {
        "precision": result.precision,
        "recall": result.recall,
        "incidents": result.incidents,
        "explained": result.explained,
        "immediate_median_delay_s": _median(imm),
        "by_fault_type": {
            k: {
                "pairs": s.pairs,
                "found": s.found,
                "recall": s.recall,
                "incidents": s.incidents,
                "covered": s.covered,
                "median_delay_s": _median(s.delays),
                "max_delay_s": max(s.delays) if s.delays else None,
                "immediate": k in IMMEDIATE,
            }
            for k, s in sorted(result.by_type.items())
        },
        "by_incident_type": {
            k: {"incidents": a, "explained": b, "precision": b / a}
            for k, (a, b) in sorted(result.by_incident_type.items())
        },
        "unexplained": [
            {
                "type": u.type,
                "device": u.device,
                "started": datetime.fromtimestamp(u.started, UTC).isoformat(),
            }
            for u in result.unexplained[:50]
        ],
        "missed": [
            {
                "fault": f.id,
                "type": f.type,
                "device": device,
                "onset": datetime.fromtimestamp(f.onset(device), UTC).isoformat(),
                "end": datetime.fromtimestamp(f.end, UTC).isoformat(),
            }
            for f, device in result.missed[:50]
        ],
        "messages": run.messages,
        "readings": run.readings,
        "dead_letters": run.dead_letters,
        "faults": run.faults,
        "store_s": round(run.store_s, 1),
        "detect_s": round(run.detect_s, 1),
    }


def print_report(
    result: Score,
    run: Run,
    *,
    days: float,
    mqtt: bool = False,
    settings: Mapping[str, float] | None = None,
) -> None:
    print(
        f"scenario: {days:g} simulated days, {run.faults} random faults, {run.messages:,} messages"
    )
    if settings:
        print(f"  city set with {describe_settings(settings)}")
    how = "through Mosquitto and ingest" if mqtt else "directly through ingest's decoder+sink"
    print(
        f"  stored {how} in {run.store_s:.0f} s: "
        f"{run.readings:,} readings, {run.dead_letters:,} dead letters"
    )
    print(f"  detection (replay by reading time) took {run.detect_s:.0f} s")
    print()
    print(
        f"  {'fault type':24} {'pairs':>5} {'found':>5} {'recall':>7} {'incid.':>6} "
        f"{'median delay':>12} {'max delay':>10}"
    )
    for k, s in sorted(result.by_type.items()):
        mark = "*" if k in IMMEDIATE else " "
        med = _median(s.delays)
        mx = max(s.delays) if s.delays else float("nan")
        print(
            f" {mark}{k:24} {s.pairs:5d} {s.found:5d} {_fmt(s.recall):>7} {s.incidents:6d} "
            f"{_fmt(med / 60, '.1f'):>9} min {_fmt(mx / 60, '.1f'):>6} min"
        )
    print()
    print(f"  {'incident type':24} {'all':>5} {'explained':>9} {'precision':>9}")
    for k, (a, b) in sorted(result.by_incident_type.items()):
        print(f"  {k:24} {a:5d} {b:9d} {b / a:9.3f}")
    imm = result.immediate_delays()
    print()
    print(
        f"  overall: precision {_fmt(result.precision)} ({result.explained}/{result.incidents}), "
        f"recall {_fmt(result.recall)}; median delay of * faults "
        f"{_fmt(_median(imm) / 60, '.2f')} simulated min"
    )
    print(
        "  targets: precision >= 0.95, recall >= 0.95, median * delay <= 2 min: "
        + (
            "met"
            if result.precision >= 0.95 and result.recall >= 0.95 and _median(imm) <= 120
            else "NOT met"
        )
    )
    for u in result.unexplained[:15]:
        t = datetime.fromtimestamp(u.started, UTC).isoformat(timespec="seconds")
        print(f"  unexplained: {u.type} on {u.device} at {t}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.sweep:
        from lab._eval_sweep import run_cli

        return run_cli(args)
    if args.plot is not None:
        raise ConfigError("--plot", "draws the detection curve: only with --sweep")
    if args.jobs != 1:
        raise ConfigError("--jobs", "runs the sweep's scenarios at once: only with --sweep")
    if args.severities is not None:
        raise ConfigError("--severities", "lists the sweep's severities: only with --sweep")
    days = 1.0 if args.quick else args.days
    warmup = min(args.warmup_days, 0.5) if args.quick else args.warmup_days
    start: datetime = args.start
    kwargs: dict[str, Any] = {
        "start": start,
        "days": days,
        "warmup_days": warmup,
        "rate": args.rate * (1.5 if args.quick else 1.0),
        "seed": args.seed,
        "severity": args.severity,
        "truth_path": args.truth,
        "multivariate": args.multivariate,
        "settings": tuple(args.settings),
    }
    if args.use_database:
        if args.mqtt:
            kwargs["mqtt_dir"] = Path(tempfile.mkdtemp(prefix="citypulse-eval-"))
        result, sim_run, _ = run_scenario(settings.database_url, **kwargs)
    else:
        from lab._embedded import migrated_postgres

        with migrated_postgres("citypulse-eval-") as (pg, folder):
            if args.mqtt:
                kwargs["mqtt_dir"] = folder
            result, sim_run, _ = run_scenario(pg.url, **kwargs)
    if args.json:
        out = {**report_dict(result, sim_run), "settings": dict(args.settings)}
        print(json.dumps(out, indent=2, default=str))
    else:
        print_report(result, sim_run, days=days, mqtt=args.mqtt, settings=dict(args.settings))
    return 0
