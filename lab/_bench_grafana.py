"""Time every dashboard panel's queries, as Grafana would run them, over a simulated city.

Fills a database with 30 simulated days of 500 devices (--quick: 7 days of 100), generated
inside PostgreSQL, unless it already holds that; then expands each panel's queries with
Grafana's macros for the last 24 hours, 7 days and 30 days (variables at "All") and
prints the median time of each panel, flagging those over the 500 ms budget.  As a
baseline in the same run, the panels that switch to rollups are also timed for 24 hours
forced onto raw readings.

With ``--city large`` (the default from ``--devices 10000`` up) the city is the
simulator's large one (10,075 devices) at its own rates, about 5,200 readings a second:
the last ``--raw-hours`` (6: 112 million readings) are generated as raw readings by
:func:`lab._seed_fast.seed_window`, the rollups reach back a day, and the ranges timed are
the last hour, 6 hours and 24 hours.  The disk taken is printed, raw and rollups.

The database is a private PostgreSQL in --data-dir (plain schema mode), or the server of
CITYPULSE_DATABASE_URL when one is configured (a database citypulse_bench_grafana is
created there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from citypulse import Settings, positive_int
from lab._say import say

HELP = "time every dashboard query"
BUDGET_MS = 500.0
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
LARGE_RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24)}
#: From this many devices on, the bench seeds the large city unless told otherwise.
LARGE_DEVICES = 10_000
LARGE_RAW_HOURS = 6
#: A query slower than this on its first run is not run again (its median is that run).
ONCE_MS = 10_000.0
BENCH_DB = "citypulse_bench_grafana"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".citypulse/bench-grafana"),
        help="folder of the private PostgreSQL (default .citypulse/bench-grafana)",
    )
    parser.add_argument(
        "--devices",
        type=positive_int,
        default=500,
        help=f"about this many (default 500; from {LARGE_DEVICES:,} on, the large city)",
    )
    parser.add_argument(
        "--city",
        choices=("generated", "large"),
        default=None,
        help="generated: the grid city of about --devices devices at the bulk seed's rates; "
        "large: simulate --city large at its own rates (10,075 devices, ~5,200 readings/s), "
        f"the default from --devices {LARGE_DEVICES:,}",
    )
    parser.add_argument(
        "--days", type=positive_int, default=None, help="simulated days (default 30; large: 1)"
    )
    parser.add_argument(
        "--raw-hours",
        type=positive_int,
        default=LARGE_RAW_HOURS,
        help=f"large city: the last hours held as raw readings (default {LARGE_RAW_HOURS}: "
        "112 M); rollups reach back --days",
    )
    parser.add_argument(
        "--repeat", type=positive_int, default=3, help="runs per query, median (default 3)"
    )
    parser.add_argument(
        "--regenerate", action="store_true", help="generate the data again even if present"
    )
    parser.add_argument(
        "--jit",
        choices=("on", "off"),
        default="off",
        help="PostgreSQL JIT for the timed session (default off, as recommended for "
        "Grafana's login: compiling costs 0.1-0.6 s on short analytic queries)",
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run seeds and times, from the command line."""

    large: bool
    devices: int
    days: int
    ranges: dict[str, timedelta]
    raw_hours: int


def plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(False, 100, 7, {k: v for k, v in RANGES.items() if v <= timedelta(days=7)}, 0)
    city = args.city or ("large" if args.devices >= LARGE_DEVICES else "generated")
    if city == "large":
        days = args.days or 1
        ranges = {k: v for k, v in LARGE_RANGES.items() if v <= timedelta(days=days)}
        return Plan(True, len(_city(0, large=True).devices()), days, ranges, args.raw_hours)
    days = args.days or 30
    ranges = {k: v for k, v in RANGES.items() if v <= timedelta(days=days)}
    return Plan(False, args.devices, days, ranges, 0)


@dataclass(frozen=True, slots=True)
class Timing:
    dashboard: str
    panel: str
    range: str
    ms: float
    rows: int
    queries: int


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _prepare(args: argparse.Namespace, settings: Settings) -> tuple[str, Any]:
    """The benchmark database's URL and what to stop afterwards (or None)."""
    from psycopg import sql

    from citypulse.db import connect
    from lab._embedded import configured_or_private

    server_url, stopper = configured_or_private(settings, args.data_dir)
    if stopper is not None:
        with connect(_with_db(server_url, "postgres"), autocommit=True) as conn:
            # Fewer checkpoints while loading 10+ GB (the bench's own server only).
            conn.execute("ALTER SYSTEM SET max_wal_size = '4GB'")
            conn.execute("SELECT pg_reload_conf()")
    url = _with_db(server_url, BENCH_DB)
    with connect(_with_db(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,))
        if args.regenerate and exists.fetchone():
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,))
        if not exists.fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    return url, stopper


def _city(devices: int, large: bool = False) -> Any:
    from simulator import generated_city, large_city

    if large:
        return large_city(seed=11)
    n = max(1, devices // 6)
    while len(generated_city(n, seed=11).devices()) < devices:
        n += 1
    return generated_city(n, seed=11)


def _held(url: str, mode: Literal["plain"] | None, query: str) -> tuple[int, dict[str, Any]]:
    """Migrate (``mode`` None: plain, or TimescaleDB where loaded); the devices held and
    the row of ``query`` (an aggregate) about the readings held."""
    from psycopg.rows import dict_row

    from citypulse.db import connect, migrate, scalar

    with connect(url, autocommit=True) as conn:
        migrate(conn, mode=mode or ("plain" if not _timescale(conn) else "auto"))
        have = int(scalar(conn, "SELECT count(*) FROM devices"))
        span = conn.cursor(row_factory=dict_row).execute(query.encode()).fetchone()
    assert span is not None  # an aggregate always returns a row
    return have, span


def _other_data(have: int) -> SystemExit:
    return SystemExit(f"{BENCH_DB} holds other data ({have} devices); run again with --regenerate")


def _fill(url: str, devices: int, days: int) -> datetime:
    """Make sure the database holds the simulated days; return the end of the data."""
    from lab._seed import seed_bulk

    city = _city(devices)
    have, span = _held(
        url, None, "SELECT min(time) AS first, max(time) AS last FROM traffic_light_readings"
    )
    expected = len(city.devices())
    first, last = span["first"], span["last"]
    if first and have == expected and last - first >= timedelta(days=days - 1):
        say(f"reusing {expected} devices, {first:%Y-%m-%d} .. {last:%Y-%m-%d %H:%M}")
        return last + timedelta(seconds=20)  # type: ignore[no-any-return]
    if have:
        raise _other_data(have)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    say(f"generating {days} days of {expected} devices into {BENCH_DB} ...")
    report = seed_bulk(url, city, start=start, end=end, seed=11, progress=say)
    say(
        f"generated {report.readings:,} readings, {report.incidents} incidents, "
        f"{report.appeals} appeals in {report.seconds:.0f} s"
    )
    return end


def _fill_window(url: str, p: Plan) -> datetime:
    """The large city: raw readings over the last ``p.raw_hours``, rollups over
    ``p.days``; reused when the database holds them."""
    from lab._seed_fast import SeedModeError, seed_window

    city = _city(p.devices, large=True)
    expected = len(city.devices())
    have, span = _held(
        url,
        "plain",
        "SELECT (SELECT max(time) FROM camera_readings) AS last, "
        "(SELECT min(time) FROM camera_readings) AS raw_first, "
        "(SELECT min(bucket) FROM camera_1m) AS first",
    )
    last, first, raw_first = span["last"], span["first"], span["raw_first"]
    if (
        last
        and have == expected
        and last - first >= timedelta(days=p.days) - timedelta(hours=1)
        and last - raw_first >= timedelta(hours=p.raw_hours) - timedelta(minutes=2)
    ):
        say(f"reusing the large city, raw from {raw_first:%Y-%m-%d %H:%M} .. {last:%H:%M}")
        return last + timedelta(seconds=2)  # type: ignore[no-any-return]
    if have:
        raise _other_data(have)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    raw_from = (end - timedelta(hours=p.raw_hours)).replace(minute=0)
    start = end - timedelta(days=p.days)
    say(
        f"generating the large city ({expected:,} devices) at its own rates into {BENCH_DB}: "
        f"raw readings from {raw_from:%Y-%m-%d %H:%M}, rollups from {start:%Y-%m-%d %H:%M} "
        f"to {end:%H:%M} UTC ..."
    )
    try:
        report = seed_window(
            url, city, start=start, end=end, raw_from=raw_from, seed=11, progress=say
        )
    except SeedModeError as exc:
        raise SystemExit(str(exc)) from exc
    say(
        f"generated {report.readings:,} raw readings ("
        + ", ".join(f"{k} {n:,}" for k, n in report.readings_by_kind.items())
        + f") in {report.load_s:.0f} s, indexes in {report.index_s:.0f} s, rollups in "
        f"{report.rollup_s:.0f} s; {report.seconds:.0f} s in all; {report.incidents} "
        f"incidents, {report.appeals} appeals"
    )
    return end


def _timescale(conn: Any) -> bool:
    from citypulse.db import scalar

    return bool(
        scalar(conn, "SELECT current_setting('shared_preload_libraries', true) ~ 'timescaledb'")
    )


def _raw_only(sql_text: str) -> str:
    """The same query with the range tiers moved so raw readings serve every range."""
    import re

    from grafana._query import SPAN

    gate = re.compile(re.escape(SPAN) + r" (<=|>) interval '[^']*'")
    return gate.sub(lambda m: f"{SPAN} {m.group(1)} interval '1000000 hours'", sql_text)


def _time_all(
    url: str,
    end: datetime,
    repeat: int,
    ranges: dict[str, timedelta],
    jit: str,
    baseline_range: str | None = "24h",
) -> tuple[list[Timing], list[Timing]]:
    import psycopg

    from citypulse.db import connect, schema_mode
    from grafana import QueryContext, Variable, build_dashboards, expand
    from grafana._macros import parse_interval
    from grafana._query import SPAN

    timings: list[Timing] = []
    baseline: list[Timing] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '60s'")
        conn.execute("SELECT set_config('jit', %s, false)", (jit,))
        # As the data source's TimescaleDB switch would be set for this database.
        timescaledb = schema_mode(conn) == "timescale"
        say(f"schema mode: {'timescale' if timescaledb else 'plain'}")

        def variables(model: dict[str, Any], start: datetime) -> dict[str, Variable]:
            out: dict[str, Variable] = {}
            for v in model["templating"]["list"]:
                cur = conn.execute(expand(v["query"], QueryContext(start, end, out)).encode())
                names = [c.name for c in cur.description or ()]
                col = names.index("__value") if "__value" in names else 0
                options = tuple(str(r[col]) for r in cur.fetchall())
                out[v["name"]] = Variable(
                    v["name"], "$__all", multi=True, include_all=True, options=options
                )
            return out

        def run(sqls: list[str]) -> tuple[float, int]:
            runs, rows = [], 0
            for _ in range(repeat):
                t0 = time.perf_counter()
                rows = 0
                for text in sqls:
                    try:
                        rows += len(conn.execute(text.encode()).fetchall())
                    except psycopg.errors.QueryCanceled:
                        return 60_000.0, -1
                runs.append((time.perf_counter() - t0) * 1000.0)
                if runs[0] > ONCE_MS:
                    break
            return statistics.median(runs), rows

        for name, model in build_dashboards().items():
            say(f"timing {name} ...")
            for label, span in ranges.items():
                start = end - span
                vars_ = variables(model, start)
                panels = [
                    (
                        p["title"],
                        p["targets"],
                        round(p["gridPos"]["w"] * 1800 / 24),
                        p.get("interval"),
                    )
                    for p in model["panels"]
                ] + [
                    (f"annotation: {a['name']}", [a["target"]], 1800, None)
                    for a in model.get("annotations", {}).get("list", [])
                ]
                for title, targets, width, min_interval in panels:
                    ctx = QueryContext(
                        start, end, vars_, max_data_points=width,
                        min_interval=parse_interval(min_interval) if min_interval else None,
                        timescaledb=timescaledb,
                    )  # fmt: skip
                    sqls = [expand(t["rawSql"], ctx) for t in targets]
                    ms, rows = run(sqls)
                    timings.append(Timing(name, title, label, ms, rows, len(sqls)))
                    tiered = any(SPAN in t["rawSql"] for t in targets)
                    if label == baseline_range and tiered:
                        raw = [expand(_raw_only(t["rawSql"]), ctx) for t in targets]
                        ms, rows = run(raw)
                        baseline.append(Timing(name, title, label, ms, rows, len(raw)))
    return timings, baseline


def _table(timings: list[Timing], baseline: list[Timing], ranges: list[str]) -> str:
    lines = []
    base = {(b.dashboard, b.panel): b for b in baseline}
    for dashboard in dict.fromkeys(t.dashboard for t in timings):
        lines.append(f"\n{dashboard}")
        header = f"  {'panel':<58}" + "".join(f"{r:>10}" for r in ranges)
        lines.append(header + f"{'24h raw':>12}")
        for panel in dict.fromkeys(t.panel for t in timings if t.dashboard == dashboard):
            cells = []
            for r in ranges:
                t = next(
                    x for x in timings if (x.dashboard, x.panel, x.range) == (dashboard, panel, r)
                )
                flag = "!" if t.ms > BUDGET_MS else " "
                cells.append(f"{t.ms:>9.1f}{flag}")
            b = base.get((dashboard, panel))
            raw = f"{b.ms:>11.1f}{'!' if b.ms > BUDGET_MS else ' '}" if b else f"{'-':>12}"
            lines.append(f"  {panel[:58]:<58}" + "".join(cells) + raw)
    return "\n".join(lines)


def _disk(url: str) -> dict[str, int]:
    from citypulse.db import connect
    from lab._seed_fast import disk_bytes

    with connect(url, autocommit=True) as conn:
        out = disk_bytes(conn)
        raw = conn.execute(
            "SELECT (SELECT count(*) FROM traffic_light_readings) "
            "+ (SELECT count(*) FROM camera_readings) + (SELECT count(*) FROM parking_readings) "
            "+ (SELECT count(*) FROM ecology_readings)"
        ).fetchone()
    assert raw is not None
    return {"raw_readings": int(raw[0]), **out}


def run(args: argparse.Namespace, settings: Settings) -> int:
    p = plan(args)
    devices, days, ranges = p.devices, p.days, p.ranges
    url, stopper = _prepare(args, settings)
    try:
        end = _fill_window(url, p) if p.large else _fill(url, devices, days)
        disk = _disk(url)
        say(
            f"{disk['raw_readings']:,} raw readings: table {disk['raw_table'] / 2**30:.2f} GiB "
            f"+ indexes {disk['raw_indexes'] / 2**30:.2f} GiB; rollups "
            f"{disk['rollup_tables'] / 2**30:.2f} GiB + indexes "
            f"{disk['rollup_indexes'] / 2**30:.2f} GiB"
        )
        timings, baseline = _time_all(
            url, end, max(1, args.repeat), ranges, args.jit,
            baseline_range=None if p.large else "24h",
        )  # fmt: skip
    finally:
        if stopper is not None:
            stopper.stop()
    over = [t for t in timings if t.ms > BUDGET_MS]
    if args.json:
        print(
            json.dumps(
                {
                    "devices": devices,
                    "city": "large" if p.large else "generated",
                    "days": days,
                    "raw_hours": p.raw_hours or None,
                    "disk_bytes": disk,
                    "budget_ms": BUDGET_MS,
                    "jit": args.jit,
                    "timings": [_as_dict(t) for t in timings],
                    "baseline_raw_24h": [_as_dict(t) for t in baseline],
                    "over_budget": len(over),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    what = (
        f"the large city ({devices:,} devices), raw readings over the last {p.raw_hours} h, "
        f"rollups over {days} d"
        if p.large
        else f"{days} simulated days of {devices} devices"
    )
    print(
        f"citypulse bench grafana: {what}; median of {args.repeat} runs per panel (all its "
        f"queries), ms; ! = over {BUDGET_MS:.0f} ms; jit {args.jit}"
    )
    print(
        f"{disk['raw_readings']:,} raw readings; disk: raw {disk['raw_table']:,} B + indexes "
        f"{disk['raw_indexes']:,} B; rollups {disk['rollup_tables']:,} B + indexes "
        f"{disk['rollup_indexes']:,} B"
    )
    print(_table(timings, baseline, list(ranges)))
    worst = max(timings, key=lambda t: t.ms)
    print(
        f"\n{len(timings)} panel timings, {len(over)} over budget; slowest "
        f"{worst.dashboard}/{worst.panel} {worst.range} {worst.ms:.1f} ms"
    )
    if baseline:
        fast = statistics.median(
            next(
                t.ms
                for t in timings
                if (t.dashboard, t.panel, t.range) == (b.dashboard, b.panel, "24h")
            )
            for b in baseline
        )
        print(
            f"baseline: the {len(baseline)} range-tiered panels over 24 h take a median "
            f"{fast:.1f} ms from the rollups against "
            f"{statistics.median(b.ms for b in baseline):.1f} ms from raw readings"
        )
    return 0


def _as_dict(t: Timing) -> dict[str, object]:
    return {
        "dashboard": t.dashboard,
        "panel": t.panel,
        "range": t.range,
        "ms": round(t.ms, 2),
        "rows": t.rows,
        "queries": t.queries,
    }
