"""``citypulse report week``: the weekly analysis of appeals as one printable HTML file.

The week is an ISO week (``--week 2026-W48``) in the routing file's time zone; by default
the last one that has ended.  Russian unless ``--lang en``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from citypulse import LOCALES, Settings, iso_week

HELP = "write the weekly analysis of appeals (HTML)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--week",
        type=iso_week,
        default=None,
        help="ISO week, e.g. 2026-W48 (default: the last full week in the region's zone)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    parser.add_argument(
        "--lang",
        choices=LOCALES,
        default=None,
        help="language (default: CITYPULSE_LOCALE, else the routing file's)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from appeals import load_routing
    from appeals.analysis import last_full_week, render_week, weekly_report
    from citypulse.db import connect

    routing = load_routing(settings.routing_file)
    now = datetime.now(UTC)
    monday = args.week or last_full_week(now, routing.zone)
    with connect(settings.database_url, application_name="citypulse-report-week") as conn:
        report = weekly_report(conn, routing, monday, now=now)
    html = render_week(report, routing, locale=args.lang or settings.locale or routing.locale)
    try:
        args.out.write_text(html, encoding="utf-8")
    except OSError as exc:
        print(f"citypulse report week: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    print(
        f"citypulse report week: {report.label}, {report.received.value} appeals, "
        f"written to {args.out}",
        file=sys.stderr,
    )
    return 0
