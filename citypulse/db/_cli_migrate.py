"""Apply pending migrations from sql/ in order, each in one transaction, with checksums.

The schema mode (timescale or plain) is chosen at the first run: timescale where the
extension is installed and preloaded, plain otherwise; --mode forces one.  Re-running is
a no-op; an applied migration that was edited is refused.
"""

from __future__ import annotations

import argparse

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
        help="raw-data retention (env CITYPULSE_RETENTION_DAYS, default 365)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from psycopg.rows import scalar_row

    from citypulse.db._connect import connect
    from citypulse.db._migrate import migrate

    mode = args.mode or settings.schema_mode
    retention = args.retention_days or settings.retention_days
    with connect(
        settings.database_url, application_name="citypulse-migrate", autocommit=True
    ) as conn:
        report = migrate(conn, mode=mode)
        current = (
            conn.cursor(row_factory=scalar_row)
            .execute("SELECT extract(day FROM raw_retention)::int FROM schema_policy")
            .fetchone()
        )
        if current != retention:
            conn.execute("SELECT citypulse_set_retention(make_interval(days => %s))", (retention,))
    for m in report.applied:
        print(f"applied  {m.filename}")
    print(
        f"schema mode: {report.mode}; {len(report.applied)} applied, "
        f"{report.already} already applied"
    )
    return 0
