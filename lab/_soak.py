"""``citypulse bench soak``: the whole pipeline under sustained load, watched for loss and leaks.

Starts a private PostgreSQL and Mosquitto, the real ``citypulse ingest`` processes (two,
on the MQTT 5 shared subscription), ``citypulse detect`` (two, sharing the device
partitions) and ``citypulse serve`` (delivering appeals to a signature-checking webhook
receiver run here), then publishes a city (the preset, ``--city large`` or a generated
grid) at ``--speed`` times its normal rate from one or more publisher processes, with
faults injected live, for ``--minutes`` of wall time (simulated time ends at the present).

It reports readings offered, acknowledged, stored, lost and duplicated (exactly, against
what the publishers sent), publish→commit and publish→incident latency, the faults'
recall, appeals delivered, CPU seconds per 1,000 readings and RSS (start, end of
warm-up, end, max) of each process, the database's growth per reading (raw and rollups)
and the rollups' lag; see lab/_soak_measure.py for how each is measured.
``--find-capacity`` repeats it at rising speeds until the pipeline no longer holds the
rate, and names what saturated first.  The publishers share the machine with the
pipeline; with ``--lean-publishers`` they simulate their share into memory before the
run (timed apart) and publish it through a minimal MQTT 3.1.1 writer instead of paho
(about 80 µs of CPU per message), so that what they cost during the run is close to what
a gateway's connection costs.
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from citypulse import (
    CitypulseError,
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
        "--speed",
        type=positive_float,
        default=None,
        help="times the city's normal rate (default 5; 1 for --city large)",
    )
    parser.add_argument(
        "--city",
        choices=("kaluga", "large"),
        default=None,
        help="a named city: kaluga (the preset, default) or large (10,075 devices)",
    )
    parser.add_argument(
        "--intersections",
        type=non_negative_int,
        default=0,
        help="a generated city of N intersections instead of the preset (0 = preset)",
    )
    parser.add_argument("--ingest-workers", type=positive_int, default=2, help="ingest processes")
    parser.add_argument("--detect-workers", type=positive_int, default=2, help="detect processes")
    parser.add_argument(
        "--publishers",
        type=non_negative_int,
        default=0,
        help="publisher processes (0: 2 above 1,000 devices, else 1)",
    )
    parser.add_argument(
        "--lean-publishers",
        action="store_true",
        help="publishers simulate their share into memory before the run and publish it "
        "through a minimal MQTT 3.1.1 writer, not paho, so that the machine's CPU goes to "
        "the pipeline (capacity runs)",
    )
    parser.add_argument(
        "--detect-checkpoint",
        type=non_negative_float,
        default=10.0,
        metavar="SECONDS",
        help="the detect workers' --checkpoint-every (10; 0 = every poll, the old cost)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=11, help="simulation seed")
    parser.add_argument(
        "--faults",
        type=non_negative_float,
        default=None,
        help="random faults per simulated day (150; 7200 for --city large)",
    )
    parser.add_argument(
        "--find-capacity",
        action="store_true",
        help="raise the speed step by step; report the highest rate the pipeline holds",
    )
    parser.add_argument(
        "--step-minutes", type=positive_float, default=5.0, help="each step's length (5)"
    )
    parser.add_argument(
        "--step-factor", type=positive_float, default=1.5, help="speed factor per step (1.5)"
    )
    parser.add_argument("--max-steps", type=positive_int, default=6, help="at most this many (6)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the data folder and process logs afterwards"
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=("DEBUG", "INFO", "WARNING"),
        help="the processes' log level (their logs are searched for secrets; DEBUG shows most)",
    )


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("citypulse")
    if script.exists():
        return [str(script)]
    found = shutil.which("citypulse")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from citypulse.cli import main; sys.exit(main())"]


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.intersections and args.city:
        print("soak: --city and --intersections exclude each other", file=sys.stderr)
        return 2
    speed = args.speed if args.speed is not None else (1.0 if args.city else 5.0)
    minutes = args.minutes if args.minutes is not None else (1.0 if args.quick else 10.0)
    try:
        if args.find_capacity:
            return _find_capacity(args, speed)
        result = soak(args, speed=speed, minutes=minutes)
    except SoakError as exc:
        say(f"soak: {exc}")
        return 1
    except KeyboardInterrupt:
        say("soak: interrupted; every process it started is stopped")
        return 130
    _print(result, json_out=args.json)
    return 0 if _sound(result) else 1


def _sound(result: dict[str, Any]) -> bool:
    """What must never fail, at any rate."""
    return bool(
        result["lost"] == 0
        and result["duplicates"] == 0
        and not result["crashed"]
        and result["appeals_delivered_twice"] == 0
        and result["bad_signatures"] == 0
        and not result["secrets_in_logs"]
    )


def _holds(result: dict[str, Any]) -> list[str]:
    """Why the pipeline did not hold this rate (empty: it held)."""
    why = []
    if not _sound(result):
        why.append("lost, duplicated or crashed")
    if not result["drained"]:
        why.append("not stored within a minute of the end")
    p99 = result["publish_to_incident_s"]["p99"]
    if p99 is not None and p99 > 5.0:
        why.append(f"publish->incident p99 {p99} s > 5 s")
    lag = result["rollup_lag_s"]["max"]
    if lag is None or lag > 60.0:
        why.append(f"rollup lag {lag} s > 60 s")
    if result["publisher"]["shortfall_pct"] > 5.0:
        why.append(f"publishers {result['publisher']['shortfall_pct']} % short of the rate")
    return why


def _find_capacity(args: argparse.Namespace, speed: float) -> int:
    """Raise the speed step by step until the pipeline no longer holds it."""
    steps: list[dict[str, Any]] = []
    held: dict[str, Any] | None = None
    for _ in range(args.max_steps):
        say(f"find-capacity: speed {speed:g} for {args.step_minutes:g} min ...")
        result = soak(args, speed=speed, minutes=args.step_minutes)
        why = _holds(result)
        steps.append(
            {
                "speed": speed,
                "offered_readings_per_s": result["publisher"]["offered_readings_per_s"],
                "held": not why,
                "why_not": why,
                "saturation": result["saturation"],
                "publish_to_incident_p99_s": result["publish_to_incident_s"]["p99"],
                "rollup_lag_max_s": result["rollup_lag_s"]["max"],
                "lost": result["lost"],
            }
        )
        say(f"  {'held' if not why else 'did not hold: ' + '; '.join(why)}")
        if why:
            break
        held = steps[-1]
        speed = round(speed * args.step_factor, 3)
    out = {
        "step_minutes": args.step_minutes,
        "capacity_readings_per_s": held["offered_readings_per_s"] if held else None,
        "capacity_speed": held["speed"] if held else None,
        "saturated_first": steps[-1]["saturation"]["verdict"],
        "steps": steps,
    }
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print()
        print(f"find-capacity: steps of {args.step_minutes:g} min")
        for s in steps:
            sat = s["saturation"]
            print(
                f"  speed {s['speed']:6g}: {s['offered_readings_per_s']:9,.0f} readings/s "
                f"{'held' if s['held'] else 'NOT held: ' + '; '.join(s['why_not'])}"
            )
            print(f"      CPU share of a core: {sat['cpu_share']}; {sat['verdict']}")
        cap = out["capacity_readings_per_s"]
        print(
            f"  capacity: {cap:,.0f} readings/s (speed {out['capacity_speed']:g})"
            if cap
            else "  capacity: below the first step"
        )
        print(f"  saturated first: {out['saturated_first']}")
    return 0


def soak(args: argparse.Namespace, *, speed: float, minutes: float) -> dict[str, Any]:
    """One soak run at ``speed`` for ``minutes`` of wall time: its result."""
    from citypulse.db import connect, migrate, upsert_devices
    from lab._demo import _faults
    from lab._embedded import EmbeddedMosquitto, EmbeddedPostgres, free_port
    from lab._soak_measure import commit_latency, compare, compression, detection, sizes
    from lab._soak_procs import Watched, machine_s
    from lab._soak_tap import SentTap
    from simulator import (
        CITIES,
        FaultType,
        RunSpec,
        Simulation,
        generated_city,
        preset_city,
        publish_parallel,
    )

    wall_s = minutes * 60.0
    if args.city:
        city = CITIES[args.city](args.seed)
    elif args.intersections:
        city = generated_city(args.intersections, seed=args.seed)
    else:
        city = preset_city()
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    start = end - timedelta(seconds=wall_s * speed)
    # The demo's showcase (a stuck signal, smog, a dead camera) on the preset city, so
    # that detection and delivery have work however few random faults the rate draws.
    showcase = not args.intersections and args.city in (None, "kaluga")
    rate = args.faults if args.faults is not None else (7200.0 if args.city == "large" else 150.0)
    # No payload faults (malformed, wrong units): ingest stores or dead-letters them with
    # the time it received them, the present, which moves detect's data clock out of the
    # simulated past and makes every device look silent (a product issue, reported).
    kinds = [t for t in FaultType if t not in (FaultType.MALFORMED_PAYLOAD, FaultType.WRONG_UNITS)]
    rates = dict.fromkeys(kinds, rate / len(kinds))
    faults = _faults(city, start, end, rate=rates, seed=args.seed, showcase=showcase)
    spec = RunSpec(
        city, start=start, end=end, seed=args.seed, faults=tuple(faults), intervals=city.intervals
    )
    devices = Simulation(city, start=start, end=end, seed=args.seed).devices
    per_s = sum(1.0 / max(0.1, d.report_interval_s) for d in devices)
    publishers = args.publishers or (2 if len(devices) > 1000 else 1)
    work = Path(tempfile.mkdtemp(prefix="citypulse-soak-", dir="/var/tmp"))
    os.chmod(work, 0o755)  # noqa: S103 - the unprivileged PostgreSQL must reach it
    pg = EmbeddedPostgres(work / "pg")
    broker = EmbeddedMosquitto(work / "mqtt")
    procs: list[_Proc] = []
    stop_watching = threading.Event()
    try:
        say("starting PostgreSQL and Mosquitto ...")
        pg.start()
        broker.start()
        with connect(pg.url, autocommit=True) as conn:
            migrate(conn, mode="plain")
            upsert_devices(conn, devices)
            size0 = sizes(conn)
        # Credentials every process is configured with; none may ever reach a log.  The
        # private servers accept any (trust auth, anonymous broker), so these are checked
        # for leaks, not for access control (tests/deploy covers that).  The publishers
        # log in as gateways on a shared account: per-device credentials and ACLs are the
        # deployment's business (docs/deploy.md), not what this bench measures.
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
        for i in range(args.detect_workers):
            name = f"detect-{i + 1}"
            spawn(
                name,
                ["detect", "--clock", "data", "--lookback", "86400", "--worker-id", name,
                 "--checkpoint-every", str(args.detect_checkpoint)],
            )  # fmt: skip
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
                raise SoakError(
                    f"{p.name} did not start ({p.popen.poll()}); see {logs / p.name}.log"
                )
        assert broker.proc is not None
        watched = [Watched(p.name, p.popen.pid) for p in procs] + [
            Watched("mosquitto", broker.proc.pid),
            Watched("postgres", pg.pid),
        ]
        tap = SentTap(
            watch=frozenset(d for f in faults for d in f.devices),
            sample_every=max(1, int(per_s * wall_s * speed / 100_000)),
            # a run whose publishers fall far behind ends anyway (figures then say so)
            budget_s=wall_s * 1.25 + 30.0,
        )
        watcher = _Watcher(pg.url, watched, warm_s=min(300.0, wall_s / 6))
        clock = {"behind_s": 0.0, "last": 0.0, "wall0": 0.0, "sim0": 0.0, "render_s": 0.0}
        machine0: tuple[float, float] = (0.0, 0.0)
        rendering = time.monotonic()

        def begin() -> None:  # the measured run: every clock starts as publishing does
            nonlocal machine0
            if args.lean_publishers:  # else render_s stays 0: nothing rendered first
                clock["render_s"] = time.monotonic() - rendering
                say(f"simulated in {clock['render_s']:.0f} s; publishing for {minutes:g} min ...")
            for w in watched:
                w.begin()
            machine0 = machine_s()
            threading.Thread(target=watcher.run, args=(stop_watching,), daemon=True).start()

        def progress(p: Any) -> None:
            behind = 0.0
            if p.sim_time:
                if not clock["sim0"]:
                    clock["wall0"], clock["sim0"] = p.wall_s, p.sim_time
                behind = (p.wall_s - clock["wall0"]) - (p.sim_time - clock["sim0"]) / speed
                clock["behind_s"] = max(clock["behind_s"], behind)
            if p.wall_s - clock["last"] >= 30.0:
                clock["last"] = p.wall_s
                rss = ", ".join(f"{w.name} {w.sample() / 1024:.0f}" for w in watched[:-1])
                say(
                    f"  {p.wall_s:5.0f} s: published {p.messages:,} messages, "
                    f"{max(0.0, behind):.1f} s behind; "
                    f"{len(watcher.seen)} incidents; RSS MiB {rss}"
                )

        say(
            f"soak: {len(devices):,} devices at {speed:g}x their rate (about "
            f"{per_s * speed:,.0f} reports/s) for {minutes:g} min, {len(faults)} faults, "
            f"{publishers} publisher(s) and {len(procs)} pipeline processes ..."
        )
        if args.lean_publishers:
            say("the publishers simulate their share into memory first ...")
        report = publish_parallel(
            spec,
            mqtt_url=MqttUrl.parse(mqtt_url),
            workers=publishers,
            mode="gateway",
            speed=speed,
            max_inflight=4000,
            progress=progress,
            progress_every_s=1.0,
            tap=tap,
            prerender=args.lean_publishers,
            on_start=begin,
            client="lean" if args.lean_publishers else "paho",
        )
        say(f"published {report.messages:,} messages in {report.wall_s:.0f} s; draining ...")
        sent_keys = sum(len(set(a)) for a in tap.series.values())
        drained = _wait_stored(pg.url, sent_keys, timeout=60.0)
        watcher.settle(timeout=15.0)  # detection of the last readings
        stop_watching.set()
        busy, iowait = (b - a for a, b in zip(machine0, machine_s(), strict=True))
        for w in watched:
            w.end()
        crashed = [p.name for p in procs if p.popen.poll() is not None]
        say("measuring ...")
        with connect(pg.url, autocommit=True) as conn:
            result = compare(conn, tap)
            result.update(commit_latency(conn, tap))
            resolved = watcher.resolved(conn)
            size1 = sizes(conn)
            ratio = compression(conn)
        result.update(
            detection(
                faults, watcher.seen, resolved, tap, start=start.timestamp(), end=end.timestamp()
            )
        )
        result.update(_deliveries(pg.url, receiver))
        receiver.stop()
        stored = max(1, result["readings_stored"])
        # Pacing from the first message to the last (not the processes' start-up): the
        # rate offered is the schedule's over the simulated time published.
        paced = [w for _, w in tap.clock]
        sim_span = (tap.clock[-1][0] - tap.clock[0][0]) / speed if len(tap.clock) > 1 else 0.0
        wall_span = max(paced) - min(paced) if paced else 0.0
        shortfall = max(0.0, wall_span / sim_span - 1) * 100 if sim_span > 0 else 0.0
        offered = tap.readings / sim_span if sim_span > 0 else 0.0
        result.update(
            city=args.city or ("generated" if args.intersections else "kaluga"),
            devices=len(devices),
            speed=speed,
            minutes=minutes,
            readings_offered=tap.readings,
            messages=report.messages,
            wall_s=round(report.wall_s, 1),
            drained=drained,
            appeals_delivered=result["appeals_received"],
            publisher={
                "processes": publishers,
                "offered_readings_per_s": round(offered, 1),
                "achieved_readings_per_s": round(tap.readings / max(1e-9, wall_span), 1),
                "stopped_behind": tap.cut,
                "shortfall_pct": round(shortfall, 1),
                "behind_max_s": round(clock["behind_s"], 1),
                "cpu_s": round(tap.cpu_s, 1),
                "max_rss_kib": tap.max_rss_kib,
                "lean": args.lean_publishers,
                "render_s": round(clock["render_s"], 1),
            },
            memory_kib={
                w.name: {
                    "start": w.rss_start,
                    "warm": w.rss_warm,
                    "end": w.rss_end,
                    "max": w.rss_max,
                    "growth_pct": round((w.rss_end - w.rss_warm) / max(1, w.rss_warm) * 100, 1),
                    # the same over the median of a minute at each end: the level, without
                    # the transients a point sample may catch
                    "warm_median": (wm := w.rss_median(watcher.warm_s, watcher.warm_s + 60)),
                    "end_median": (em := w.rss_median(watcher.span_s - 60, watcher.span_s)),
                    "steady_growth_pct": round((em - wm) / max(1, wm) * 100, 1),
                    "series": w.rss_series,
                }
                for w in watched
                if w.name != "postgres"  # its backends share memory: RSS means little
            },
            warm_up_s=watcher.warm_s,
            cpu_s={w.name: round(w.cpu, 1) for w in watched} | {"publishers": round(tap.cpu_s, 1)},
            cpu_s_per_1000_readings={w.name: round(w.cpu / stored * 1000, 4) for w in watched}
            | {"publishers": round(tap.cpu_s / stored * 1000, 4)},
            written_bytes={w.name: w.written for w in watched},
            cpu_series={w.name: w.cpu_series for w in watched},
            db_bytes={k: size1[k] - size0[k] for k in size1},
            db_bytes_per_reading={k: round((size1[k] - size0[k]) / stored, 1) for k in size1},
            db_mode="plain",
            timescale_compression_ratio=ratio,
            rollup_lag_s=watcher.rollup_lag(),
            crashed=crashed,
        )
        result["saturation"] = _saturation(result, report.wall_s, busy, iowait)
        result["detect_checkpoint_s"] = args.detect_checkpoint
        _stop(procs)
        result["secrets_in_logs"] = _leaks(logs, secrets_used)
        return result
    finally:
        stop_watching.set()
        _stop(procs)
        broker.stop()
        pg.stop()
        if args.keep:
            say(f"data and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _saturation(
    result: dict[str, Any], wall_s: float, busy: float, iowait: float
) -> dict[str, Any]:
    """Which process ran out of what: CPU shares of a core from /proc, the publishers'
    shortfall, the machine's I/O wait and what else kept its cores busy."""
    cores = os.cpu_count() or 1
    share = {k: round(v / max(1e-9, wall_s), 2) for k, v in result["cpu_s"].items()}
    busiest = max(share, key=lambda k: share[k])
    total = sum(share.values())
    machine = busy / max(1e-9, wall_s)
    others = max(0.0, machine - total)
    io_share = iowait / max(1e-9, wall_s)
    short = result["publisher"]["shortfall_pct"]
    if machine >= 0.85 * cores and others > 0.25 * total:
        verdict = (
            f"CPU: the machine's {cores} cores were busy ({machine:.2f}), {others:.2f} of a "
            f"core with other work beside this soak's {total:.2f}; the soak's largest share "
            f"is {busiest} ({share[busiest]:.2f})"
        )
    elif io_share > 0.3 and total < 0.85 * cores:
        verdict = f"I/O: the machine waited {io_share:.0%} of a core on storage"
    elif total >= 0.85 * cores:
        verdict = (
            f"CPU: all {cores} cores busy ({total:.2f} of {cores}); the largest share is "
            f"{busiest} ({share[busiest]:.2f} of a core)"
        )
    elif share[busiest] >= 0.9:
        verdict = f"CPU: {busiest} used {share[busiest]:.2f} of a core (single-threaded limit)"
    else:
        verdict = f"nothing saturated (busiest {busiest}, {share[busiest]:.2f} of a core)"
    if short > 5.0:
        verdict += f"; the publishers fell {short}% behind the offered rate"
    return {
        "cpu_share": share,
        "cpu_total": round(total, 2),
        "machine_busy": round(machine, 2),
        "other_processes": round(others, 2),
        "cores": cores,
        "iowait_share": round(io_share, 2),
        "verdict": verdict,
    }


class SoakError(CitypulseError):
    """A soak could not run (a process did not start)."""


class _Watcher:
    """Polls, while the soak runs, the incidents as they open, the rollups' lag and RSS.

    Rollup lag: every 5 s a marker minute (in the year 2000: no reading there) is marked
    dirty; the time until a refresh has taken it is what a reading waits to be rolled up.
    """

    def __init__(self, url: str, watched: list[Any], *, warm_s: float) -> None:
        self.url = url
        self.watched = watched
        self.warm_s = round(warm_s, 1)
        self.seen: dict[int, Any] = {}
        self.lags: list[float] = []
        self.pending: dict[int, float] = {}
        self.last_change = time.monotonic()
        self.span_s = 0.0  # how long it has watched

    def run(self, stop: threading.Event) -> None:
        from citypulse.db import connect
        from lab._soak_procs import cpu_s

        t0 = time.monotonic()
        warm = False
        marker = 0
        next_slow = t0
        with connect(self.url, autocommit=True) as conn:
            while not stop.wait(0.5):
                self._incidents(conn)
                now = time.monotonic()
                self.span_s = now - t0
                if now < next_slow:
                    continue
                next_slow = now + 5.0
                for w in self.watched:
                    rss = w.sample()
                    w.rss_series.append((round(now - t0, 1), rss))
                    w.cpu_series.append((round(now - t0, 1), round(cpu_s(w.pid), 2)))
                    if not warm and now - t0 >= self.warm_s:
                        w.rss_warm = rss
                warm = warm or now - t0 >= self.warm_s
                marker += 1
                self._markers(conn, marker)

    def _markers(self, conn: Any, marker: int) -> None:
        now = time.monotonic()
        gone = set(self.pending)
        for (n,) in conn.execute(
            "SELECT DISTINCT (extract(epoch FROM minute - timestamptz '2000-01-01 00:00+00')"
            " / 60)::int FROM rollup_dirty WHERE minute < '2000-02-01'"
        ):
            gone.discard(int(n))
        for n in gone:
            self.lags.append(now - self.pending.pop(n))
        conn.execute(
            "INSERT INTO rollup_dirty (kind, minute)"
            " VALUES ('traffic_light',"
            " timestamptz '2000-01-01 00:00+00' + make_interval(mins => %s))",
            (marker,),
        )
        self.pending[marker] = time.monotonic()

    def _incidents(self, conn: Any) -> None:
        from lab._soak_measure import Seen

        last = max(self.seen, default=0)
        for row in conn.execute(
            "SELECT id, type, device_id, extract(epoch FROM started_at),"
            " extract(epoch FROM last_alarm_at), extract(epoch FROM opened_at)"
            " FROM incidents WHERE id > %s ORDER BY id",
            (last,),
        ):
            self.seen[int(row[0])] = Seen(
                int(row[0]), row[1], row[2], float(row[3]), float(row[4]), float(row[5])
            )
            self.last_change = time.monotonic()

    def settle(self, *, timeout: float) -> None:
        """Wait until no incident has opened for 5 s (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - self.last_change < 5.0:
            time.sleep(0.5)

    def resolved(self, conn: Any) -> dict[int, float | None]:
        return {
            int(i): None if r is None else float(r)
            for i, r in conn.execute("SELECT id, extract(epoch FROM resolved_at) FROM incidents")
        }

    def rollup_lag(self) -> dict[str, Any]:
        now = time.monotonic()
        waiting = [now - t for t in self.pending.values()]
        # a marker still waiting at the end has waited at least this long
        lags = sorted(self.lags + [w for w in waiting if w > 10.0])
        return {
            "p50": None if not lags else round(lags[len(lags) // 2], 1),
            "max": None if not lags else round(lags[-1], 1),
            "markers": len(lags),
        }


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
            time.sleep(2.0)
    return False


def _print(result: dict[str, Any], *, json_out: bool) -> None:
    if json_out:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    pub = result["publisher"]
    print()
    print(
        f"soak: {result['city']} city, {result['devices']:,} devices at speed "
        f"{result['speed']:g}, {result['messages']:,} messages over {result['wall_s']} s "
        f"from {pub['processes']} publisher(s)"
        + (f", their messages simulated beforehand ({pub['render_s']} s)" if pub["lean"] else "")
    )
    print(
        f"  readings: {result['readings_offered']:,} offered "
        f"({pub['offered_readings_per_s']:,.0f}/s; publishers {pub['shortfall_pct']} % short, "
        f"at most {pub['behind_max_s']} s behind), {result['readings_acknowledged']:,} "
        f"acknowledged by the broker, {result['readings_stored']:,} stored; "
        f"lost {result['lost']}, duplicated {result['duplicated']}, "
        f"unexpected {result['unexpected']}"
    )
    c, d = result["publish_to_commit_ms"], result["publish_to_incident_s"]
    print(
        f"  publish->commit: p50 {c['p50']} ms, p99 {c['p99']} ms, max {c['max']} ms "
        f"({c['samples']:,} sampled readings)"
    )
    print(
        f"  live faults: {result['faults']} ({result['fault_pairs']} fault-device pairs), "
        f"{result['faults_found']} found: recall {result['recall']} (immediate types "
        f"{result['recall_immediate']}); publish->incident p50 {d['p50']} s, p99 {d['p99']} s,"
        f" max {d['max']} s ({d['n']} incidents)"
    )
    print(
        f"  detection and delivery: {result['incidents']} incidents, {result['appeals']} appeals,"
        f" {result['outbox']} webhook deliveries queued, {result['appeals_delivered']} delivered"
        f" (twice: {result['appeals_delivered_twice']}, pending {result['outbox_pending']},"
        f" failed {result['outbox_failed']}, bad signatures {result['bad_signatures']})"
    )
    print("  process          CPU s  per 1,000 readings  share of a core")
    share = result["saturation"]["cpu_share"]
    for name, cpu in result["cpu_s"].items():
        print(
            f"    {name:14s} {cpu:7.1f} {result['cpu_s_per_1000_readings'][name]:12.4f}"
            f" {share.get(name, 0.0):14.2f}"
        )
    print(
        f"  memory (RSS, MiB)     start  warm-up ({result['warm_up_s']:g} s)    end      max"
        "   growth after warm-up: samples; minute medians"
    )
    for name, m in result["memory_kib"].items():
        print(
            f"    {name:14s} {m['start'] / 1024:9.1f} {m['warm'] / 1024:12.1f} "
            f"{m['end'] / 1024:10.1f} {m['max'] / 1024:8.1f} {m['growth_pct']:+8.1f} %"
            f"  {m['warm_median'] / 1024:.1f} → {m['end_median'] / 1024:.1f}"
            f" {m['steady_growth_pct']:+.1f} %"
        )
    print(f"    publishers: peak {pub['max_rss_kib'] / 1024:.1f} MiB (the largest)")
    per, total = result["db_bytes_per_reading"], result["db_bytes"]
    print(
        f"  database growth ({result['db_mode']} PostgreSQL): raw {per['raw']} bytes/reading "
        f"({total['raw'] / 2**20:.1f} MiB), rollups {per['rollups']} bytes/reading "
        f"({total['rollups'] / 2**20:.1f} MiB); TimescaleDB compression: "
        f"{result['timescale_compression_ratio']}"
    )
    lag = result["rollup_lag_s"]
    print(f"  rollup lag: p50 {lag['p50']} s, max {lag['max']} s ({lag['markers']} markers)")
    print(f"  saturation: {result['saturation']['verdict']}")
    leaks = ", ".join(result["secrets_in_logs"]) or "none"
    print(f"  secrets found in the processes' logs: {leaks}")
    if result["lost"]:
        print(f"  LOST, e.g. (kind, device, lane, epoch ms): {result['lost_sample']}")
    if result["crashed"]:
        print(f"  CRASHED: {', '.join(result['crashed'])}")
