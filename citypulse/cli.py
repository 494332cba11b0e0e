"""The ``citypulse`` console script.

Each leaf command lives in the package that owns it, as a module exposing ``HELP``,
``configure(parser)`` and ``run(args, settings) -> int``, declared as an entry point of the
``citypulse.commands`` group in ``pyproject.toml``: the kernel names no stage.  Command
modules import heavy dependencies inside ``run`` (and packages load their public names
lazily) so that ``--help`` stays fast: tests/citypulse/test_cli_startup.py checks it.
Every option that takes a value has a ``type`` from the kernel's option types
(``citypulse.positive_int``, ``iso_time``, ...), so wrong input is refused while parsing.
``bench`` and ``eval`` commands all get ``--json`` and ``--quick``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol, cast

from citypulse._args import LOG_LEVELS, database_url, log_level, mqtt_url
from citypulse._errors import CitypulseError, ConfigError
from citypulse._settings import Settings

log = logging.getLogger(__name__)


class CommandModule(Protocol):
    """What a command module offers: its one-line help, its options and its run."""

    HELP: str
    __doc__: str | None

    def configure(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


@dataclass(frozen=True, slots=True)
class Command:
    """One command as its package declares it: ``path`` from the entry point's name."""

    path: tuple[str, ...]
    module: str


#: The entry-point group where each package declares its commands (pyproject.toml).
COMMANDS_GROUP = "citypulse.commands"

_GROUP_HELP = {
    "db": "schema migrations and upkeep",
    "devices": "device registry and MQTT credentials",
    "grafana": "dashboards as code",
    "bench": "benchmarks that print what they measured",
    "eval": "detector evaluation",
    "keys": "API keys for the governance center's API",
    "report": "reports for the governance center",
}


def commands() -> tuple[Command, ...]:
    """Every declared command, in the order the packages declare them."""
    return tuple(
        Command(tuple(ep.name.split(".")), ep.value) for ep in entry_points(group=COMMANDS_GROUP)
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citypulse",
        description="Turns what a city's field devices see into appeals for the governance center.",
    )
    parser.add_argument(
        "--database-url",
        type=database_url,
        help="postgresql:// URL (env CITYPULSE_DATABASE_URL)",
    )
    parser.add_argument(
        "--mqtt-url", type=mqtt_url, help="mqtt:// or mqtts:// URL (env CITYPULSE_MQTT_URL)"
    )
    parser.add_argument(
        "--log-level", type=log_level, help="DEBUG, INFO, WARNING (env CITYPULSE_LOG_LEVEL)"
    )
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for command in commands():
        module = cast(CommandModule, importlib.import_module(command.module))
        container = top
        if len(command.path) == 2:
            group = command.path[0]
            if group not in groups:
                gp = top.add_parser(group, help=_GROUP_HELP[group], description=_GROUP_HELP[group])
                groups[group] = gp.add_subparsers(
                    dest="subcommand", metavar="SUBCOMMAND", required=True
                )
            container = groups[group]
        doc = (module.__doc__ or "").strip()
        sub = container.add_parser(
            command.path[-1],
            help=module.HELP,
            description=doc or module.HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if command.path[0] in ("bench", "eval"):
            sub.add_argument("--json", action="store_true", help="print a JSON result on stdout")
            sub.add_argument("--quick", action="store_true", help="a small run, under a minute")
        module.configure(sub)
        sub.set_defaults(handler=module.run)
        sub.set_defaults(command_path=command.path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a :class:`CitypulseError` it raises becomes one line on stderr
    and exit code 2 when it is wrong input (:class:`ConfigError`), 1 otherwise.  Any other
    exception is a bug and keeps its traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        settings = settings.with_overrides(
            database_url=args.database_url, mqtt=args.mqtt_url, log_level=args.log_level
        )
        if settings.log_level not in logging.getLevelNamesMapping():
            raise ConfigError(
                "CITYPULSE_LOG_LEVEL", f"must be {LOG_LEVELS}, got {settings.log_level!r}"
            )
        logging.basicConfig(
            level=settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        return int(args.handler(args, settings))
    except ConfigError as exc:
        print(f"citypulse: configuration error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except CitypulseError as exc:
        print(f"citypulse: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _one_line(exc: BaseException) -> str:
    """The message on one line: libpq's, for one, adds indented hint lines."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
