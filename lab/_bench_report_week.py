"""Time the weekly report (``citypulse report week``) over a year of a region's appeals.

Seeds a fresh database with --appeals appeals spread over the 365 days before now
(``lab._seed_appeals``: COPY, a progress line on stderr while it runs), then gathers and
renders the last full week's report --runs times and prints the median and p90 time
(the budget is 10 s), with the seeding rate.

The database is a private PostgreSQL in --data-dir (plain schema mode), or the server of
CITYPULSE_DATABASE_URL when one is configured (a database citypulse_bench_report_week is
created there afresh each run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from citypulse import Settings, percentile, positive_int
from lab._say import say

HELP = "time the weekly report over a year of appeals"
BENCH_DB = "citypulse_bench_report_week"
BUDGET_S = 10.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--appeals", type=positive_int, default=1_000_000, help="appeals (default 1000000)"
    )
    parser.add_argument("--runs", type=positive_int, default=5, help="timed runs (default 5)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".citypulse/bench-report-week"),
        help="folder of the private PostgreSQL (default .citypulse/bench-report-week)",
    )
    parser.add_argument("--seed", type=positive_int, default=7, help="random seed (default 7)")


def _prepare(args: argparse.Namespace, settings: Settings) -> tuple[str, Any]:
    """A fresh, migrated benchmark database's URL and what to stop afterwards (or None)."""
    from psycopg import sql

    from citypulse.db import connect, migrate
    from lab._bench_grafana import _with_db
    from lab._embedded import configured_or_private

    server_url, stopper = configured_or_private(settings, args.data_dir)
    with connect(_with_db(server_url, "postgres"), autocommit=True) as conn:
        name = sql.Identifier(BENCH_DB)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    url = _with_db(server_url, BENCH_DB)
    with connect(url, autocommit=True) as conn:
        migrate(conn, mode="plain")
    return url, stopper


def run(args: argparse.Namespace, settings: Settings) -> int:
    import json
    from datetime import UTC, datetime

    from appeals import load_routing
    from appeals.analysis import last_full_week, render_week, weekly_report
    from citypulse.db import connect
    from lab._seed_appeals import seed_appeals

    routing = load_routing(settings.routing_file)
    if getattr(args, "quick", False):  # every bench's --quick: a small run, under a minute
        args.appeals, args.runs = min(args.appeals, 20_000), min(args.runs, 3)
    url, stopper = _prepare(args, settings)
    try:
        now = datetime.now(UTC)
        with connect(url) as conn:
            seeded = seed_appeals(
                conn, args.appeals, end=now, routing=routing, seed=args.seed, progress=say
            )
        rows = seeded.appeals + seeded.events + seeded.incidents + seeded.links
        monday = last_full_week(now, routing.zone)
        timings: list[float] = []
        size = 0
        received = 0
        with connect(url) as conn:
            for k in range(args.runs):
                t0 = time.perf_counter()
                report = weekly_report(conn, routing, monday, now=now)
                html = render_week(report, routing)
                timings.append(time.perf_counter() - t0)
                conn.rollback()
                size, received = len(html.encode()), report.received.value
                say(f"run {k + 1}/{args.runs}: {timings[-1]:.3f} s")
    finally:
        if stopper is not None:
            stopper.stop()
    median, p90 = percentile(timings, 0.5), percentile(timings, 0.9)
    assert median is not None  # at least one run
    assert p90 is not None
    if getattr(args, "json", False):
        result = {
            "appeals": seeded.appeals,
            "events": seeded.events,
            "incidents": seeded.incidents,
            "links": seeded.links,
            "seed_s": round(seeded.seconds, 2),
            "load_s": round(seeded.load_seconds, 2),
            "rows_per_s": round(rows / seeded.seconds),
            "week": f"{monday:%G-W%V}",
            "week_appeals": received,
            "html_bytes": size,
            "runs_s": [round(t, 4) for t in timings],
            "median_s": round(median, 4),
            "p90_s": round(p90, 4),
            "budget_s": BUDGET_S,
        }
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"citypulse bench report-week: {seeded.appeals:,} appeals over 365 days "
        f"({seeded.events:,} history rows, {seeded.incidents:,} incidents, "
        f"{seeded.links:,} links) seeded in {seeded.seconds:.1f} s "
        f"({seeded.appeals / seeded.seconds:,.0f} appeals/s, {rows / seeded.seconds:,.0f} rows/s; "
        f"rows copied in {seeded.load_seconds:.1f} s, {rows / seeded.load_seconds:,.0f} rows/s, "
        f"then indexes built and analysed)"
    )
    print(
        f"week {monday:%G-W%V}: {received:,} appeals, {size / 1024:.0f} KiB of HTML; gather and "
        f"render over {len(timings)} runs: median {median:.3f} s, p90 {p90:.3f} s "
        f"(budget {BUDGET_S:.0f} s{', over' if p90 > BUDGET_S else ''})"
    )
    return 0
