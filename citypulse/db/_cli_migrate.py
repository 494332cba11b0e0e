"""Apply pending migrations from sql/ in order, each in one transaction, with checksums.

The schema mode (timescale or plain) is chosen at the first run: timescale where the
extension is installed and preloaded, plain otherwise; --mode forces one.  Re-running is
a no-op; an applied migration that was edited is refused.  The raw-data retention
changes only when --retention-days or CITYPULSE_RETENTION_DAYS asks for another value.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from citypulse._args import positive_int
from citypulse._settings import Settings

HELP = "apply pending schema migrations"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=("auto", "timescale", "plain"),
        default=None,
        help="schema mode at the first migration (env CITYPULSE_SCHEMA_MODE)",
    )
    parser.add_argument(
        "--retention-days",
        type=positive_int,
        default=None,
        help="raw-data retention (env CITYPULSE_RETENTION_DAYS); unset: keep the "
        "database's, 365 days on a new one",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse.db._connect import connect
    from citypulse.db._migrate import migrate
    from citypulse.db._upkeep import raw_retention, set_raw_retention

    mode = args.mode or settings.schema_mode
    # Only a flag or variable changes the retention: a plain re-run keeps what is set.
    requested: tuple[int, str] | None = None
    if args.retention_days is not None:
        requested = (args.retention_days, "--retention-days")
    elif settings.retention_days is not None:
        requested = (settings.retention_days, "CITYPULSE_RETENTION_DAYS")
    with connect(
        settings.database_url, application_name="citypulse-migrate", autocommit=True
    ) as conn:
        report = migrate(conn, mode=mode)
        for m in report.applied:
            print(f"applied  {m.filename}")
        print(
            f"schema mode: {report.mode}; {len(report.applied)} applied, "
            f"{report.already} already applied"
        )
        changed = False
        if requested is not None:
            days, setting = requested
            changed = set_raw_retention(conn, timedelta(days=days), setting=setting)
        kept = raw_retention(conn)
    print(f"raw retention: {kept.days} days ({'changed' if changed else 'unchanged'})")
    return 0
