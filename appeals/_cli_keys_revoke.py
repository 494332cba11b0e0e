"""Revoke an API key by name (it stops working at once)."""

from __future__ import annotations

import argparse
import sys

from citypulse import Settings

HELP = "revoke an API key"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="the key's name")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from appeals._auth import revoke_key
    from citypulse.db import connect

    with connect(settings.database_url, application_name="citypulse-keys") as conn:
        revoked = revoke_key(conn, args.name)
        conn.commit()
    if not revoked:
        print(f"citypulse keys revoke: no active key named {args.name!r}", file=sys.stderr)
        return 1
    return 0
