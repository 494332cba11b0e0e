"""List registered devices: kind, district, last seen, online, and whether each has an
MQTT login in the password file (a device without one cannot connect; a login without a
device is refused by ingest when unknown devices are rejected)."""

from __future__ import annotations

import argparse
from pathlib import Path

from citypulse._args import slug
from citypulse._records import DeviceKind
from citypulse._settings import Settings
from citypulse.devices._cli_add import DEFAULT_PASSWORD_FILE
from citypulse.devices._mosquitto import is_service_name, read_entries

HELP = "list devices and their logins"
_QUERY = """
SELECT id, kind, district, last_seen, online FROM devices
WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(district)s::text IS NULL OR district = %(district)s)
ORDER BY district, kind, id
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind", choices=[k.value for k in DeviceKind], help="only devices of this kind"
    )
    parser.add_argument("--district", type=slug, help="only devices in this district")
    parser.add_argument(
        "--password-file",
        type=Path,
        default=Path(DEFAULT_PASSWORD_FILE),
        help=f"Mosquitto password file to check logins in (default {DEFAULT_PASSWORD_FILE})",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse.db import connect

    logins = read_entries(args.password_file)
    with connect(settings.reader_url, application_name="citypulse-devices") as conn:
        rows = conn.execute(_QUERY, {"kind": args.kind, "district": args.district}).fetchall()
    print(f"{'device':<32} {'kind':<14} {'district':<14} {'last seen (UTC)':<20} online login")
    registered: set[str] = set()
    for device_id, kind, district, last_seen, online in rows:
        registered.add(device_id)
        seen = f"{last_seen:%Y-%m-%d %H:%M:%S}" if last_seen else "never"
        state = {True: "yes", False: "no", None: "-"}[online]
        login = "yes" if device_id in logins else "NO"
        print(f"{device_id:<32} {kind:<14} {district:<14} {seen:<20} {state:<6} {login}")
    print(f"{len(rows)} devices, {sum(1 for d in registered if d not in logins)} without a login")
    if args.kind is None and args.district is None:
        orphans = sorted(n for n in set(logins) - registered if not is_service_name(n))
        if orphans:
            print(f"logins without a registered device: {', '.join(orphans)}")
    return 0
