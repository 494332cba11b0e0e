"""``citypulse eval tension``: are surges of appeals found, and nothing else, on simulated weeks?

For each seed: the simulated region's citizens (simulator's rate table at ``--scale``,
daily and weekly seasonality, docs/simulator.md) over ``--warmup-weeks`` of history and
then ``--weeks`` scored weeks, alternately surge-free and with ``--surges`` injected
surges (twice the cell's normal for a day by default, starting on a weekday hour).
The appeals are loaded into a fresh database with their simulated times, and the
computation (:func:`appeals.analysis.update_tension`) is run hour by hour over the
scored weeks, as the worker would run it live; it never sees the ground truth.

Scoring, per the issue's terms:

- a surge is **found** when a surge point of its cell (its service × district, or its
  sector block × district) overlaps it and was reported (``detected_at``) within
  ``--within`` (6 h) of its onset; recall and the median delay are given per band of the
  cell's normal rate, and gated on cells of at least 20 appeals a day;
- a surge point is **explained** when it overlaps an injected surge in its cell
  (precision = explained / all, on the surge weeks, for cells of at least 20 a day);
- on surge-free weeks every tension point of any kind that starts or is reported there
  is false; the rate is given per 100 cell-weeks (cells: service × district and sector ×
  district with a non-zero normal).  Every appeal is resolved after a lognormal delay
  (median 2 days), so places come back and recurrences are judged too.

It also times each hourly update: the computation keeps up with the appeal stream when
an hour of appeals takes well under a minute to process.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from citypulse import ConfigError, FloatRange, IntRange, Settings, percentile, seed_list
from lab._say import say

HELP = "score tension points on simulated weeks with injected surges"

BANDS = ((0.0, 10.0), (10.0, 20.0), (20.0, 50.0), (50.0, 100.0), (100.0, float("inf")))
GATE_PER_DAY = 20.0
WEEK = timedelta(days=7)
#: every simulated appeal is resolved after a lognormal delay: median 2 days (the
#: regions' usual deadlines are days), sigma 0.8 (a tenth take over 5.6 days), so places
#: can come back after a resolution and recurrences are judged as in a region
RESOLVE_MEDIAN_DAYS = 2.0
RESOLVE_SIGMA = 0.8


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seeds", type=seed_list, default=(1, 2, 3), help="seeds, e.g. 1,2,3 (default 1,2,3)"
    )
    parser.add_argument(
        "--weeks",
        type=IntRange(2, 52),
        default=8,
        help="scored weeks, alternately surge-free and with surges (default 8)",
    )
    parser.add_argument(
        "--warmup-weeks",
        type=IntRange(2, 12),
        default=3,
        help="history before the scored weeks, for the normals (default 3)",
    )
    parser.add_argument(
        "--surges",
        type=IntRange(1, 100),
        default=8,
        help="surges injected in each surge week (default 8)",
    )
    parser.add_argument(
        "--multiplier",
        type=FloatRange(1.1, 20.0),
        default=2.0,
        help="a surge's rate over its cell's normal (default 2)",
    )
    parser.add_argument(
        "--scale",
        choices=("city", "region"),
        default="region",
        help="residents per district: city, or region (x9: cells of ~2 to ~200 a day)",
    )
    parser.add_argument(
        "--within",
        type=FloatRange(0.5, 48.0),
        default=6.0,
        help="hours after onset within which a surge counts as found (default 6)",
    )
    parser.add_argument(
        "--use-database",
        action="store_true",
        help="use the configured database (CITYPULSE_DATABASE_URL; its appeals and "
        "tension points are replaced) instead of a private PostgreSQL",
    )


# --- generation and loading ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Week:
    start: datetime
    surges: bool


@dataclass(frozen=True, slots=True)
class Cell:
    kind: str  # "service" or "sector"
    value: str
    district: str  # name, as on appeals
    per_day: float


def _monday(now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) - timedelta(hours=3)  # Monday 00:00 МСК


def plan_weeks(first: datetime, warmup: int, scored: int) -> tuple[datetime, list[Week]]:
    """The history's start and the scored weeks, surge-free first, then alternating."""
    weeks = [Week(first + WEEK * (warmup + n), surges=n % 2 == 1) for n in range(scored)]
    return first, weeks


def cells(city: Any, scale: Any) -> dict[tuple[str, str, str], Cell]:
    """Every cell with a non-zero normal: (kind, value, district name) -> Cell."""
    from simulator import SERVICES, daily_rate

    out: dict[tuple[str, str, str], Cell] = {}
    for d in city.districts:
        for s in SERVICES:
            if s.per_100k <= 0:
                continue
            rate = daily_rate(s.code, d, scale)
            out[("service", s.code, d.name)] = Cell("service", s.code, d.name, rate)
            key = ("sector", s.sector, d.name)
            before = out.get(key)
            out[key] = Cell("sector", s.sector, d.name, rate + (before.per_day if before else 0))
    return out


def _copy_appeals(conn: Any, reports: Any, routing: Any, city: Any, seed: int) -> int:
    """COPY the reports as citizens' appeals with their simulated times, each resolved
    after a lognormal delay (median ``RESOLVE_MEDIAN_DAYS``), so places come back after a
    resolution as they do in a region; returns rows."""
    import numpy as np

    codes = reports.service_codes()
    delays = np.random.default_rng(seed).lognormal(
        np.log(RESOLVE_MEDIAN_DAYS * 86400.0), RESOLVE_SIGMA, len(reports)
    )
    names = {d.slug: d.name for d in city.districts}
    district_names = [names[s] for s in reports.districts]
    buf = io.StringIO()
    for i in range(len(reports)):
        code = codes[i]
        service = routing.service(code)
        if service is None:
            raise ConfigError("routing", f"the simulated service {code!r} is not in the routing")
        at = datetime.fromtimestamp(float(reports.t[i]), UTC).isoformat()
        done = datetime.fromtimestamp(float(reports.t[i]) + float(delays[i]), UTC).isoformat()
        buf.write(
            "\t".join(
                (
                    "citizen",
                    "sim",
                    str(i),
                    service.group,
                    code,
                    service.service_name,
                    district_names[int(reports.district[i])],
                    service.agency,
                    at,
                    f"{float(reports.lat[i]):.6f}",
                    f"{float(reports.lon[i]):.6f}",
                    "resolved",
                    done,
                )
            )
            + "\n"
        )
    with conn.cursor() as cur:
        cur.execute("TRUNCATE tension_members, tension_points, tension_state")
        cur.execute(
            "TRUNCATE appeal_events, appeal_links, outbox, appeals RESTART IDENTITY CASCADE"
        )
        with cur.copy(
            "COPY appeals (source, channel, external_id, sector, service_code, title, district,"
            " agency, requested_at, lat, lon, status, resolved_at) FROM STDIN"
        ) as copy:
            copy.write(buf.getvalue())
        cur.execute("ANALYZE appeals")
    conn.commit()
    return len(reports)


# --- scoring (pure) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TruthSurge:
    id: str
    cells: tuple[tuple[str, str, str], ...]  # the primary cell first
    start: datetime
    end: datetime
    per_day: float  # the primary cell's normal


@dataclass(frozen=True, slots=True)
class Point:
    id: int
    kind: str
    cell: tuple[str, str, str] | None  # surges only
    started: datetime
    ended: datetime | None
    detected: datetime


@dataclass(slots=True)
class Tally:
    surges: int = 0
    found: int = 0
    late: int = 0
    delays_h: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.surges if self.surges else float("nan")


@dataclass(slots=True)
class Result:
    bands: dict[str, Tally] = field(default_factory=dict)
    gated: Tally = field(default_factory=Tally)
    surge_points: int = 0  # gated cells, surge weeks
    explained: int = 0
    free_points: dict[str, int] = field(default_factory=dict)
    free_cell_weeks: int = 0
    update_s: list[float] = field(default_factory=list)
    appeals: int = 0

    @property
    def precision(self) -> float:
        return self.explained / self.surge_points if self.surge_points else float("nan")

    @property
    def false_per_100_cell_weeks(self) -> float:
        if not self.free_cell_weeks:
            return float("nan")
        return 100.0 * sum(self.free_points.values()) / self.free_cell_weeks


def band_name(per_day: float) -> str:
    for low, high in BANDS:
        if low <= per_day < high:
            return f"{low:g}+" if high == float("inf") else f"{low:g}-{high:g}"
    return "?"


def _overlaps(p: Point, start: datetime, end: datetime) -> bool:
    return p.started < end and (p.ended is None or p.ended >= start)


def score(
    result: Result,
    truth: Sequence[TruthSurge],
    points: Sequence[Point],
    weeks: Sequence[Week],
    all_cells: dict[tuple[str, str, str], Cell],
    *,
    within: timedelta,
) -> None:
    """Add one seed's surges, points and weeks to ``result`` (see the module docstring)."""
    for s in truth:
        tally = result.bands.setdefault(band_name(s.per_day), Tally())
        mine = [p for p in points if p.cell in s.cells and _overlaps(p, s.start, s.end)]
        first = min((p.detected for p in mine), default=None)
        for t in (tally, result.gated) if s.per_day >= GATE_PER_DAY else (tally,):
            t.surges += 1
            if first is not None and first - s.start <= within:
                t.found += 1
                t.delays_h.append(max(0.0, (first - s.start).total_seconds() / 3600))
            elif first is not None:
                t.late += 1
    for w in weeks:
        end = w.start + WEEK
        inside = [p for p in points if w.start <= p.started < end]
        if not w.surges:
            result.free_cell_weeks += len(all_cells)
            # a recurrence starts at its place's first appeal, up to 30 days back: what
            # an operator sees is a point reported in the week
            for p in [
                p for p in points if w.start <= p.started < end or w.start <= p.detected < end
            ]:
                result.free_points[p.kind] = result.free_points.get(p.kind, 0) + 1
            continue
        for p in inside:
            if p.cell is None or all_cells[p.cell].per_day < GATE_PER_DAY:
                continue
            result.surge_points += 1
            if any(p.cell in s.cells and _overlaps(p, s.start, s.end) for s in truth):
                result.explained += 1


# --- running -----------------------------------------------------------------------------


def _points(conn: Any) -> list[Point]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, kind, sector, district, service_code, facts->>'cell' AS cell,"
            " started_at, ended_at, detected_at FROM tension_points ORDER BY id"
        )
        out = []
        for r in cur:
            cell = None
            if r["kind"] == "surge":
                value = r["service_code"] if r["cell"] == "service" else r["sector"]
                cell = (r["cell"], value, r["district"])
            out.append(
                Point(r["id"], r["kind"], cell, r["started_at"], r["ended_at"], r["detected_at"])
            )
        return out


def run_seed(
    url: str, seed: int, args: argparse.Namespace, routing: Any, result: Result, first: datetime
) -> None:
    from appeals.analysis import update_tension
    from citypulse.db import connect
    from simulator import Scale, bulk_reports, preset_city, random_surges

    city = preset_city()
    scale = Scale.parse(args.scale)
    all_cells = cells(city, scale)
    history, weeks = plan_weeks(first, args.warmup_weeks, args.weeks)
    surges = []
    for n, w in enumerate(weeks):
        if w.surges:
            surges += random_surges(
                city,
                start=w.start,
                end=w.start + timedelta(days=5),
                per_week=args.surges * 7 / 5,
                seed=seed * 100 + n,
                multiplier=args.multiplier,
                id_prefix=f"w{n}s",
            )
    end = weeks[-1].start + WEEK
    reports = bulk_reports(city, start=history, end=end, scale=scale, seed=seed, surges=surges)
    names = {d.slug: d.name for d in city.districts}
    truth = []
    for s in surges:
        district = names[s.district]
        primary = (
            ("service", s.services[0], district)
            if len(s.services) == 1
            else ("sector", s.sector, district)
        )
        extra = [("service", c, district) for c in s.services] + [("sector", s.sector, district)]
        truth.append(
            TruthSurge(
                s.id,
                (primary, *[c for c in extra if c != primary]),
                s.start,
                s.end,
                all_cells[primary].per_day,
            )
        )
    with connect(url) as conn:
        result.appeals += _copy_appeals(conn, reports, routing, city, seed)
        hours = int((end - weeks[0].start).total_seconds() // 3600)
        for h in range(1, hours + 1):
            began = time.perf_counter()
            update_tension(conn, routing, weeks[0].start + timedelta(hours=h))
            result.update_s.append(time.perf_counter() - began)
            if h % 168 == 0:
                say(f"seed {seed}: week {h // 168} of {hours // 168} replayed")
        score(
            result,
            truth,
            _points(conn),
            weeks,
            all_cells,
            within=timedelta(hours=args.within),
        )


def report_dict(result: Result, args: argparse.Namespace) -> dict[str, Any]:
    def tally(t: Tally) -> dict[str, Any]:
        return {
            "surges": t.surges,
            "found": t.found,
            "found_late": t.late,
            "recall": t.recall,
            "median_delay_h": statistics.median(t.delays_h) if t.delays_h else None,
        }

    return {
        "seeds": list(args.seeds),
        "scale": args.scale,
        "weeks": args.weeks,
        "within_h": args.within,
        "multiplier": args.multiplier,
        "appeals": result.appeals,
        "gate_per_day": GATE_PER_DAY,
        "recall": result.gated.recall,
        "precision": result.precision,
        "gated": tally(result.gated),
        "bands": {k: tally(v) for k, v in sorted(result.bands.items(), key=_band_order)},
        "surge_free": {
            "cell_weeks": result.free_cell_weeks,
            "points": result.free_points,
            "per_100_cell_weeks": result.false_per_100_cell_weeks,
        },
        "update_s": {
            "hours": len(result.update_s),
            "p50": percentile(result.update_s, 0.5),
            "p99": percentile(result.update_s, 0.99),
            "max": max(result.update_s, default=None),
        },
    }


def _band_order(item: tuple[str, Tally]) -> float:
    return float(item[0].split("-")[0].rstrip("+"))


def _f(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None or x != x else format(x, spec)


def print_report(d: dict[str, Any]) -> None:
    print(
        f"tension points on {d['weeks']} simulated weeks x {len(d['seeds'])} seeds "
        f"({d['appeals']:,} appeals, {d['scale']} scale); surges x{d['multiplier']:g} "
        f"for a day, found within {d['within_h']:g} h"
    )
    print(
        f"{'cell normal/day':>16} {'surges':>7} {'found':>6} {'late':>5} {'recall':>7} "
        f"{'median delay h':>15}"
    )
    for name, t in d["bands"].items():
        print(
            f"{name:>16} {t['surges']:>7} {t['found']:>6} {t['found_late']:>5} "
            f"{_f(t['recall']):>7} {_f(t['median_delay_h'], '.1f'):>15}"
        )
    g = d["gated"]
    print(
        f"cells >= {d['gate_per_day']:g}/day: recall {_f(d['recall'])} "
        f"({g['found']}/{g['surges']}), precision {_f(d['precision'])}"
    )
    free = d["surge_free"]
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(free["points"].items())) or "none"
    print(
        f"surge-free weeks: {sum(free['points'].values())} tension points ({kinds}) in "
        f"{free['cell_weeks']:,} cell-weeks = {_f(free['per_100_cell_weeks'])} per 100 cell-weeks"
    )
    u = d["update_s"]
    print(
        f"hourly update over {u['hours']} stream hours: p50 {_f(u['p50'], '.3f')} s, "
        f"p99 {_f(u['p99'], '.3f')} s, max {_f(u['max'], '.3f')} s (keeps up while < 60 s)"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from appeals import load_routing

    if args.quick:
        args.seeds, args.weeks, args.warmup_weeks = args.seeds[:1], 2, 2
    routing = load_routing(settings.routing_file)
    first = _monday(datetime.now(UTC)) - WEEK * (args.warmup_weeks + args.weeks + 1)
    result = Result()
    if args.use_database:
        for seed in args.seeds:
            run_seed(settings.database_url, seed, args, routing, result, first)
    else:
        from lab._embedded import migrated_postgres

        with migrated_postgres("citypulse-eval-") as (pg, _):
            for seed in args.seeds:
                run_seed(pg.url, seed, args, routing, result, first)
    d = report_dict(result, args)
    if args.json:
        json.dump(d, sys.stdout, indent=2, default=str)
        print()
    else:
        print_report(d)
    return 0
