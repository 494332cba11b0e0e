"""Show the schema mode, applied and pending migrations, and the policies in force."""

from __future__ import annotations

import argparse

from citypulse._settings import Settings, mask_url

HELP = "show schema mode, migrations, policies"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse.db._connect import connect
    from citypulse.db._migrate import schema_status

    with connect(settings.reader_url, application_name="citypulse-status", autocommit=True) as conn:
        status = schema_status(conn)
    print(f"database:     {mask_url(settings.reader_url)}")
    ts = status.timescale_version or (
        "available" if status.timescale_available else "not installed"
    )
    print(f"mode:         {status.mode or 'not migrated'} (TimescaleDB: {ts})")
    print(f"migrations:   {len(status.applied)} applied, {len(status.pending)} pending")
    for version, name, variant in status.applied:
        print(f"  applied  {version:04d}_{name}" + ("" if variant == "common" else f" ({variant})"))
    for filename in status.pending:
        print(f"  pending  {filename}")
    if status.policies:
        print("policies:")
        for policy, setting, enforced_by in status.policies:
            print(f"  {policy:<28} {setting:<40} {enforced_by}")
    return 1 if status.pending else 0
