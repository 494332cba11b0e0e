"""Register a field device and give it an MQTT login the broker's ACL confines to its topics.

The device is upserted into the registry (the database of CITYPULSE_DATABASE_URL) and
its username (the device id, which the shipped broker config also makes its client id)
and password hash are written to Mosquitto's password file.  Names of the services'
logins and client ids (ingest, simulator, citypulse-*) are refused.
The shipped ACL (deploy/mosquitto/acl) lets a username write only
city/+/+/<username>/telemetry and .../status, so no per-device ACL line is needed.
A new password is generated and printed once on stdout (or read from stdin with
--password-stdin); re-running keeps an existing password unless --reset-password.
Reload the broker afterwards: docker compose kill -s SIGHUP mosquitto.

Service logins (ingest, simulator) are made with `citypulse devices login`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from citypulse._args import FloatRange, positive_float, slug
from citypulse._errors import ConfigError
from citypulse._records import Device, DeviceKind
from citypulse._settings import Settings
from citypulse.devices._mosquitto import (
    IMAGE_BROKER_USER,
    BrokerUser,
    acl_users,
    broker_user,
    check_username,
    generate_password,
    is_service_name,
    read_entries,
    set_password,
)

HELP = "register a device and its MQTT login"
DEFAULT_PASSWORD_FILE = "deploy/mosquitto/passwd"  # noqa: S105 (a path)
_DEVICE_PATTERNS = ("pattern write city/+/+/%u/telemetry", "pattern write city/+/+/%u/status")
RELOAD_HINT = "reload the broker to apply: docker compose kill -s SIGHUP mosquitto"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("device_id", metavar="ID", help="device id, also its MQTT username")
    parser.add_argument("--kind", required=True, choices=[k.value for k in DeviceKind])
    parser.add_argument(
        "--district", required=True, type=slug, help="district slug (a topic level)"
    )
    parser.add_argument("--name", default="", help="human-readable name")
    parser.add_argument("--address", default="", help="street address (used in appeals)")
    parser.add_argument("--lat", type=FloatRange(-90, 90), help="WGS 84 latitude")
    parser.add_argument("--lon", type=FloatRange(-180, 180), help="WGS 84 longitude")
    parser.add_argument("--intersection", help="intersection id (traffic lights, cameras)")
    parser.add_argument(
        "--report-interval",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="expected interval, s",
    )
    add_login_arguments(parser)
    parser.add_argument(
        "--acl-file",
        type=Path,
        help="check that this ACL confines device logins and that ID is not a service user",
    )
    parser.add_argument(
        "--no-register", action="store_true", help="write the broker login only, not the registry"
    )


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-file",
        type=Path,
        default=Path(DEFAULT_PASSWORD_FILE),
        help=f"Mosquitto password file to update (default {DEFAULT_PASSWORD_FILE})",
    )
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    parser.add_argument(
        "--reset-password",
        action="store_true",
        help="replace an existing login's password with a new generated one",
    )
    parser.add_argument(
        "--broker-user",
        type=broker_user,
        default=IMAGE_BROKER_USER,
        metavar="UID:GID",
        help="who the broker runs as, the only reader of the password file (default "
        f"{IMAGE_BROKER_USER}, the eclipse-mosquitto image's user; also USER or USER:GROUP)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    device = _device(args)
    broker: BrokerUser = args.broker_user
    if args.acl_file is not None:
        check_acl(args.acl_file.read_text(), device.id)
    if not args.no_register:
        from citypulse.db import connect, upsert_devices

        with connect(settings.database_url, application_name="citypulse-devices") as conn:
            upsert_devices(conn, [device])
            conn.commit()
        say(f"device {device.id} registered ({device.kind.value}, district {device.district})")
    write_login(args, device.id, broker)
    say(
        f"it may publish to city/{device.district}/{device.kind.value}/{device.id}/telemetry "
        "and .../status (QoS 1, status retained)"
    )
    say(RELOAD_HINT)
    return 0


def write_login(args: argparse.Namespace, username: str, broker: BrokerUser) -> None:
    """Create or update ``username`` in the password file as the flags say, readable by
    ``broker`` alone; print news."""
    path: Path = args.password_file
    exists = username in read_entries(path)
    if exists and not (args.password_stdin or args.reset_password):
        say(f"MQTT login {username} already in {path}; password unchanged")
        return
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ConfigError("--password-stdin", "empty password on stdin")
    else:
        password = generate_password()
    readable = set_password(path, username, password, broker=broker)
    say(f"MQTT login {username} {'updated' if exists else 'added'} in {path}")
    if not readable:
        say(
            f"warning: the broker ({broker}) cannot read {path}, which is yours "
            f"(0600): sudo chown {broker} {path}, and run citypulse devices as "
            "root from then on (or join the broker's group)"
        )
    if not args.password_stdin:
        say("its password (shown only now) is on the next line:")
        print(password, flush=True)


def check_acl(acl: str, device_id: str) -> None:
    """Refuse an ACL that does not confine devices, or an id that is a service login."""
    lines = {" ".join(line.split()) for line in acl.splitlines()}
    missing = [p for p in _DEVICE_PATTERNS if p not in lines]
    if missing:
        raise ConfigError("--acl-file", f"missing the device patterns: {'; '.join(missing)}")
    if device_id in acl_users(acl):
        raise ConfigError("ID", f"{device_id!r} is a service login in the ACL, not a device")


def _device(args: argparse.Namespace) -> Device:
    check_username(args.device_id)
    if is_service_name(args.device_id):
        # The broker makes a login's name its client id: a device named like a service
        # would own that service's client id and session.
        raise ConfigError("ID", f"{args.device_id!r} is reserved for the services' logins")
    if (args.lat is None) != (args.lon is None):
        raise ConfigError("--lat/--lon", "give both or neither")
    return Device(
        id=args.device_id,
        kind=DeviceKind(args.kind),
        name=args.name,
        district=args.district,
        address=args.address,
        lat=args.lat,
        lon=args.lon,
        intersection=args.intersection,
        report_interval_s=args.report_interval,
    )


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
