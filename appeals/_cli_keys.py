"""Create an API key: prints it once; only its SHA-256 hash is stored.

Roles: reporter (submit citizens' reports), operator (act on appeals; --agency limits it
to one agency's appeals), admin.
"""

from __future__ import annotations

import argparse
import sys

from citypulse import Settings

HELP = "create an API key (printed once)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="who the key is for (unique)")
    parser.add_argument("--role", required=True, choices=("reporter", "operator", "admin"))
    parser.add_argument("--agency", help="read and act only on this agency's appeals")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from appeals._auth import add_key
    from citypulse.db import connect

    with connect(settings.database_url, application_name="citypulse-keys") as conn:
        try:
            key = add_key(conn, name=args.name, role=args.role, agency=args.agency)
        except psycopg.errors.UniqueViolation:
            print(f"citypulse keys add: a key named {args.name!r} exists", file=sys.stderr)
            return 1
        conn.commit()
    print(key)
    return 0
