"""Create or change a service's MQTT login (ingest, simulator) in Mosquitto's password file.

What a login may do is in the ACL (deploy/mosquitto/acl: `user ingest` reads the city
stream, `user simulator` writes it).  A generated password is printed once on stdout;
with --password-stdin the password is read from stdin (e.g. the one in .env).  Re-running
keeps an existing password unless --password-stdin or --reset-password.
"""

from __future__ import annotations

import argparse

from citypulse._settings import Settings
from citypulse.devices._cli_add import RELOAD_HINT, add_login_arguments, say, write_login
from citypulse.devices._mosquitto import check_username

HELP = "create a service's MQTT login"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username", metavar="NAME", help="login name, e.g. ingest")
    add_login_arguments(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    write_login(args, check_username(args.username))
    say(RELOAD_HINT)
    return 0
