"""Run the periodic upkeep once: partitions ahead, retention, rollup refresh.

Ingest workers run this every few seconds on their own; this command is for cron-less
setups, backfills and checks.
"""

from __future__ import annotations

import argparse
import json

from citypulse._settings import Settings

HELP = "run partition/rollup upkeep once"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse.db._connect import connect
    from citypulse.db._upkeep import maintain

    with connect(
        settings.database_url, application_name="citypulse-maintain", autocommit=True
    ) as conn:
        print(json.dumps(maintain(conn), ensure_ascii=False))
    return 0
