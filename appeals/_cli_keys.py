"""Create an API key: prints it once; only its SHA-256 hash is stored.

Roles: reporter (submit citizens' reports), operator (act on appeals; --agency limits it
to one agency's appeals), admin, system (another system that submits events for the one
--system it names; a second line prints the secret its bodies are signed with, also once).
"""

from __future__ import annotations

import argparse
import sys

from citypulse import SLUG_RE, Settings

HELP = "create an API key (printed once)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="who the key is for (unique)")
    parser.add_argument(
        "--role", required=True, choices=("reporter", "operator", "admin", "system")
    )
    parser.add_argument("--agency", help="operator keys: see and act on this agency's appeals only")
    parser.add_argument(
        "--system",
        help="system keys (required): the source system it sends events for, as the "
        "routing file's events.sources names it (e.g. safe_city)",
    )


def _refused(message: str) -> int:
    print(f"citypulse keys add: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.role == "system":
        if not args.system:
            return _refused("--role system needs --system (the source system it speaks for)")
        if not SLUG_RE.match(args.system):
            return _refused("--system: letters, digits, _ and - only")
        if args.agency:
            return _refused("--agency is for operator keys")
        from appeals._routing import load_routing

        sources = load_routing(settings.routing_file).events.sources
        if args.system not in sources:
            known = ", ".join(sources) or "none"
            return _refused(
                f"--system: {args.system!r} is not in the routing file (known: {known})"
            )
    elif args.system:
        return _refused("--system is for system keys")

    import psycopg

    from appeals._auth import add_key, add_system_key
    from citypulse.db import connect

    with connect(settings.database_url, application_name="citypulse-keys") as conn:
        try:
            if args.role == "system":
                key, secret = add_system_key(conn, name=args.name, source_system=args.system)
                lines = [key, secret]
            else:
                lines = [add_key(conn, name=args.name, role=args.role, agency=args.agency)]
        except psycopg.errors.UniqueViolation:
            print(f"citypulse keys add: a key named {args.name!r} exists", file=sys.stderr)
            return 1
        conn.commit()
    print("\n".join(lines))
    return 0
