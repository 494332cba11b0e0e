"""Time every dashboard panel's queries, as Grafana would run them, over a simulated city.

Fills a database with 30 simulated days of 500 devices (--quick: 7 days of 100), generated
inside PostgreSQL, unless it already holds that; then expands each panel's queries with
Grafana's macros for the last 24 hours, 7 days and 30 days (variables at "All") and
prints the median time of each panel, flagging those over the 500 ms budget.  As a
baseline in the same run, the panels that switch to rollups are also timed for 24 hours
forced onto raw readings.

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
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from citypulse import Settings, positive_int
from lab._say import say

HELP = "time every dashboard query"
BUDGET_MS = 500.0
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
BENCH_DB = "citypulse_bench_grafana"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".citypulse/bench-grafana"),
        help="folder of the private PostgreSQL (default .citypulse/bench-grafana)",
    )
    parser.add_argument(
        "--devices", type=positive_int, default=500, help="about this many (default 500)"
    )
    parser.add_argument("--days", type=positive_int, default=30, help="simulated days (default 30)")
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
    url = _with_db(server_url, BENCH_DB)
    with connect(_with_db(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,))
        if args.regenerate and exists.fetchone():
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,))
        if not exists.fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    return url, stopper


def _city(devices: int) -> Any:
    from simulator import generated_city

    n = max(1, devices // 6)
    while len(generated_city(n, seed=11).devices()) < devices:
        n += 1
    return generated_city(n, seed=11)


def _fill(url: str, devices: int, days: int) -> datetime:
    """Make sure the database holds the simulated days; return the end of the data."""
    from psycopg.rows import dict_row

    from citypulse.db import connect, migrate, scalar
    from lab._seed import seed_bulk

    city = _city(devices)
    with connect(url, autocommit=True) as conn:
        migrate(conn, mode="plain" if not _timescale(conn) else "auto")
        have = scalar(conn, "SELECT count(*) FROM devices")
        span = (
            conn.cursor(row_factory=dict_row)
            .execute("SELECT min(time) AS first, max(time) AS last FROM traffic_light_readings")
            .fetchone()
        )
    expected = len(city.devices())
    assert span is not None  # an aggregate always returns a row
    first, last = span["first"], span["last"]
    if first and have == expected and last - first >= timedelta(days=days - 1):
        say(f"reusing {expected} devices, {first:%Y-%m-%d} .. {last:%Y-%m-%d %H:%M}")
        return last + timedelta(seconds=20)  # type: ignore[no-any-return]
    if have:
        raise SystemExit(
            f"{BENCH_DB} holds other data ({have} devices); run again with --regenerate"
        )
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    say(f"generating {days} days of {expected} devices into {BENCH_DB} ...")
    report = seed_bulk(url, city, start=start, end=end, seed=11, progress=say)
    say(
        f"generated {report.readings:,} readings, {report.incidents} incidents, "
        f"{report.appeals} appeals in {report.seconds:.0f} s"
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
    url: str, end: datetime, repeat: int, ranges: dict[str, timedelta], jit: str
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
                    if label == "24h" and tiered:
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


def run(args: argparse.Namespace, settings: Settings) -> int:
    devices, days = (100, 7) if args.quick else (args.devices, args.days)
    ranges = {k: v for k, v in RANGES.items() if v <= timedelta(days=days)}
    url, stopper = _prepare(args, settings)
    try:
        end = _fill(url, devices, days)
        timings, baseline = _time_all(url, end, max(1, args.repeat), ranges, args.jit)
    finally:
        if stopper is not None:
            stopper.stop()
    over = [t for t in timings if t.ms > BUDGET_MS]
    if args.json:
        print(
            json.dumps(
                {
                    "devices": devices,
                    "days": days,
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
    print(
        f"citypulse bench grafana: {days} simulated days of {devices} devices; median of "
        f"{args.repeat} runs per panel (all its queries), ms; ! = over {BUDGET_MS:.0f} ms; "
        f"jit {args.jit}"
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
