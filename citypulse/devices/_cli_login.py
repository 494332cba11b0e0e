"""Create or change a service's MQTT login (ingest workers, simulator) in Mosquitto's
password file.

What a login may do is in the ACL (deploy/mosquitto/acl): each ingest worker has a login
of its own, citypulse-ingest-N, which the shipped broker config also makes its client id
(so no device can take over a worker's session), all with the same password; `user
simulator` writes the city stream.  With --acl-file, an ingest worker's missing block is
added to the ACL, and any other name must already have one.  A generated password is
printed once on stdout; with --password-stdin the password is read from stdin (e.g. the
one in .env).  Re-running keeps an existing password unless --password-stdin or
--reset-password.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from citypulse._errors import ConfigError
from citypulse._settings import Settings
from citypulse.devices._cli_add import RELOAD_HINT, add_login_arguments, say, write_login
from citypulse.devices._mosquitto import (
    INGEST_LOGIN_RE,
    BrokerUser,
    acl_users,
    check_username,
    grant_ingest,
)

HELP = "create a service's MQTT login"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username", metavar="NAME", help="login name, e.g. citypulse-ingest-1")
    add_login_arguments(parser)
    parser.add_argument(
        "--acl-file",
        type=Path,
        help="the broker's ACL: add an ingest worker's block (citypulse-ingest-N) if it is "
        "missing; refuse any other NAME the ACL grants nothing",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    username = check_username(args.username)
    broker: BrokerUser = args.broker_user
    if args.acl_file is not None:
        if INGEST_LOGIN_RE.match(username):
            if grant_ingest(args.acl_file, username):
                say(f"{args.acl_file}: {username} may read the city stream")
        elif username not in acl_users(args.acl_file.read_text()):
            raise ConfigError(
                "NAME", f"{username!r} has no `user {username}` block in {args.acl_file}"
            )
    write_login(args, username, broker)
    say(RELOAD_HINT)
    return 0
