"""The detection curve: ``citypulse eval scenario --sweep``.

Runs the scenario at fault severities 0.25, 0.5, 1 and 2 over the given seeds, and once
per seed with no fault at all, each run on a database of its own in one private
PostgreSQL.  Per severity, per fault type and overall, it reports recall, precision,
false incidents per 1,000 device-days and the median delay, the runs of all seeds
pooled.  A false incident is one that starts in the scored period and that no injected
fault explains (the complement of precision); per fault type, the incidents counted
are those of the types that find it (``ACCEPT``).  The fault-free run has only false
incidents.  ``--plot FILE.svg`` also draws recall against severity, one line per fault
type and one overall.  A benchmark (tens of minutes at the default week), not a check.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citypulse import ConfigError
from citypulse.render import XYSeries, series_style, xy_chart
from lab._eval_scenario import ACCEPT, IMMEDIATE, Score, describe_settings, run_scenario
from lab._say import say

if TYPE_CHECKING:
    from lab._embedded import EmbeddedPostgres

SEVERITIES = (0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class Figures:
    """One row of the curve: a fault type, or everything, at one severity."""

    pairs: int
    found: int
    incidents: int
    false: int
    delays: tuple[float, ...]
    device_days: float

    @property
    def recall(self) -> float:
        return self.found / self.pairs if self.pairs else float("nan")

    @property
    def precision(self) -> float:
        return (self.incidents - self.false) / self.incidents if self.incidents else float("nan")

    @property
    def false_per_1000_device_days(self) -> float:
        return 1000.0 * self.false / self.device_days

    @property
    def median_delay_s(self) -> float:
        return statistics.median(self.delays) if self.delays else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "found": self.found,
            "recall": self.recall,
            "precision": self.precision,
            "incidents": self.incidents,
            "false_incidents": self.false,
            "false_per_1000_device_days": self.false_per_1000_device_days,
            "median_delay_s": self.median_delay_s,
        }


def incidents_by_type(scores: Sequence[Score]) -> dict[str, list[int]]:
    """Incident type -> [incidents, explained by a fault], over the runs."""
    by_incident: dict[str, list[int]] = {}
    for s in scores:
        for itype, (every, explained) in s.by_incident_type.items():
            row = by_incident.setdefault(itype, [0, 0])
            row[0] += every
            row[1] += explained
    return by_incident


def summarise(scores: Sequence[Score], device_days: float) -> dict[str, Figures]:
    """Pool the runs of one severity: ``"overall"`` and one entry per fault type."""
    kinds = sorted({k for s in scores for k in s.by_type})
    by_incident = incidents_by_type(scores)
    out: dict[str, Figures] = {}
    for kind in kinds:
        types = ACCEPT.get(kind, ())
        every = sum(by_incident.get(t, [0, 0])[0] for t in types)
        explained = sum(by_incident.get(t, [0, 0])[1] for t in types)
        out[kind] = Figures(
            pairs=sum(s.by_type[kind].pairs for s in scores if kind in s.by_type),
            found=sum(s.by_type[kind].found for s in scores if kind in s.by_type),
            incidents=every,
            false=every - explained,
            delays=tuple(d for s in scores if kind in s.by_type for d in s.by_type[kind].delays),
            device_days=device_days,
        )
    out["overall"] = Figures(
        pairs=sum(ts.pairs for s in scores for ts in s.by_type.values()),
        found=sum(ts.found for s in scores for ts in s.by_type.values()),
        incidents=sum(s.incidents for s in scores),
        false=sum(s.incidents - s.explained for s in scores),
        delays=tuple(d for s in scores for ts in s.by_type.values() for d in ts.delays),
        device_days=device_days,
    )
    return out


def _one_run(
    admin_url: str, name: str, url: str, severity: float, seed: int, kwargs: dict[str, Any]
) -> Score:
    """One scenario of the sweep on database ``name`` at ``url``, created through
    ``admin_url`` (also in a worker process)."""
    import psycopg
    from psycopg import sql

    from citypulse.db import connect, migrate

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with connect(url, autocommit=True) as conn:
        migrate(conn, mode="plain")
    rate = kwargs["rate"] if severity else 0.0
    result, _, _ = run_scenario(
        url, **{**kwargs, "rate": rate}, seed=seed, severity=severity or 1.0
    )
    return result


def run_sweep(
    *,
    seeds: Sequence[int],
    start: datetime,
    days: float,
    warmup_days: float,
    rate: float,
    severities: Sequence[float] = SEVERITIES,
    settings: Sequence[tuple[str, float]] = (),
    directory: Path,
    jobs: int = 1,
) -> dict[str, Any]:
    """Every run of the sweep on one private PostgreSQL; the curve as a JSON-ready dict.

    ``jobs`` runs that many scenarios at once, each in a process of its own (the runs are
    independent: a database each, the same seeds give the same faults)."""
    from lab._embedded import EmbeddedPostgres
    from simulator import Intervals, preset_city

    devices = len(preset_city().devices(Intervals()))
    pg = EmbeddedPostgres(directory / "postgres")
    pg.start()
    runs = [(sev, seed) for sev in severities for seed in seeds]
    runs += [(0.0, seed) for seed in seeds]  # fault-free
    kwargs: dict[str, Any] = {
        "start": start,
        "days": days,
        "warmup_days": warmup_days,
        "rate": rate,
        "settings": tuple(settings),
    }
    scores: dict[float, list[Score]] = {}
    try:
        if jobs <= 1:
            for n, (severity, seed) in enumerate(runs, start=1):
                say(f"sweep {n}/{len(runs)}: {_what(severity)}, seed {seed}")
                name = f"sweep_{n}"
                result = _one_run(pg.url, name, pg.database_url(name), severity, seed, kwargs)
                scores.setdefault(severity, []).append(result)
        else:
            _run_parallel(pg, runs, kwargs, jobs, scores)
    finally:
        pg.stop()
    device_days = devices * days * len(seeds)
    out: dict[str, Any] = {
        "seeds": list(seeds),
        "days": days,
        "devices": devices,
        "settings": dict(settings),
    }
    out["severities"] = {}
    for severity in severities:
        figures = summarise(scores[severity], device_days)
        overall = figures.pop("overall").as_dict()
        out["severities"][f"{severity:g}"] = {
            **overall,
            "by_fault_type": {k: f.as_dict() for k, f in figures.items()},
        }
    free = summarise(scores[0.0], device_days)["overall"]
    kinds = incidents_by_type(scores[0.0])
    out["fault_free"] = {
        "incidents": free.incidents,
        "false_per_1000_device_days": free.false_per_1000_device_days,
        "by_incident_type": {k: every for k, (every, _) in sorted(kinds.items()) if every},
    }
    return out


def _what(severity: float) -> str:
    return f"severity {severity:g}" if severity else "no faults"


def _run_parallel(
    pg: EmbeddedPostgres,
    runs: Sequence[tuple[float, int]],
    kwargs: dict[str, Any],
    jobs: int,
    scores: dict[float, list[Score]],
) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    # spawn: a fresh interpreter per worker, no inherited connections or threads
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: dict[Future[Score], tuple[float, int]] = {
            pool.submit(
                _one_run, pg.url, f"sweep_{n}", pg.database_url(f"sweep_{n}"), sev, seed, kwargs
            ): (sev, seed)
            for n, (sev, seed) in enumerate(runs, start=1)
        }
        done_count = 0
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                severity, seed = pending.pop(future)
                scores.setdefault(severity, []).append(future.result())
                done_count += 1
                say(f"sweep {done_count}/{len(runs)} done: {_what(severity)}, seed {seed}")


def _cell(x: float, spec: str) -> str:
    return "-" if x != x else format(x, spec)


def print_sweep(curve: dict[str, Any]) -> None:
    seeds = ",".join(str(s) for s in curve["seeds"])
    print(
        f"detection curve: {curve['devices']} devices, {curve['days']:g} scored days, "
        f"seeds {seeds}; delay = median from fault onset, simulated time"
    )
    if curve["settings"]:
        print(f"city set with {describe_settings(curve['settings'])}")
    for severity, row in curve["severities"].items():
        print(f"\nseverity {severity}")
        print(f"  {'fault type':24} {'recall':>7} {'precision':>9} {'false/kdd':>9} {'delay s':>8}")
        rows = [*row["by_fault_type"].items(), ("overall", row)]
        for kind, f in rows:
            mark = "*" if kind in IMMEDIATE else " "
            print(
                f" {mark}{kind:24} {_cell(f['recall'], '.3f'):>7}"
                f" {_cell(f['precision'], '.3f'):>9}"
                f" {_cell(f['false_per_1000_device_days'], '.2f'):>9}"
                f" {_cell(f['median_delay_s'], '.0f'):>8}"
            )
    free = curve["fault_free"]
    kinds = ", ".join(f"{k} {n}" for k, n in free.get("by_incident_type", {}).items())
    print(
        f"\nno faults: {free['incidents']} incidents{f' ({kinds})' if kinds else ''}, "
        f"{free['false_per_1000_device_days']:.2f} per 1,000 device-days"
    )


def plot_curve(curve: dict[str, Any], path: Path) -> None:
    """Write recall against severity as an SVG: one line per fault type, and overall."""
    rows = sorted((float(k), v) for k, v in curve["severities"].items())
    kinds = sorted({k for _, row in rows for k in row["by_fault_type"]})
    series = []
    for n, kind in enumerate(kinds):
        color, dash = series_style(n)
        points = [
            (sev, row["by_fault_type"].get(kind, {}).get("recall", float("nan")))
            for sev, row in rows
        ]
        series.append(XYSeries(kind, points, color=color, dash=dash))
    series.append(XYSeries("overall", [(sev, row["recall"]) for sev, row in rows], "#111827", 3.0))
    svg = xy_chart(series, x_label="fault severity", y_label="recall", y_range=(0.0, 1.0))
    try:
        path.write_text(svg + "\n")
    except OSError as exc:
        raise ConfigError("--plot", f"cannot write {path}: {exc.strerror}") from exc


def run_cli(args: argparse.Namespace) -> int:
    """``citypulse eval scenario --sweep``."""
    if args.use_database or args.mqtt or args.multivariate != "none" or args.truth:
        raise ConfigError(
            "--sweep",
            "runs many scenarios on private databases: not with --use-database, "
            "--mqtt, --multivariate or --truth",
        )
    if args.plot is not None and not args.plot.parent.is_dir():
        # checked before the sweep: the picture is drawn only after tens of minutes
        raise ConfigError("--plot", f"no such directory: {args.plot.parent}")
    with tempfile.TemporaryDirectory(prefix="citypulse-sweep-") as tmp:
        Path(tmp).chmod(0o755)  # the server may run as an unprivileged user
        curve = run_sweep(
            seeds=args.seeds,
            start=args.start,
            days=1.0 if args.quick else args.days,
            warmup_days=min(args.warmup_days, 0.5) if args.quick else args.warmup_days,
            rate=args.rate,
            severities=args.severities or SEVERITIES,
            settings=args.settings,
            directory=Path(tmp),
            jobs=args.jobs,
        )
    if args.json:
        print(json.dumps(curve, indent=2, default=str))
    else:
        print_sweep(curve)
    if args.plot is not None:
        plot_curve(curve, args.plot)
    return 0
