"""The ``citypulse`` console script.

Each leaf command lives in the package that owns it, as a module exposing
``configure(parser)`` and ``run(args, settings) -> int``.  Command modules import heavy
dependencies inside ``run`` so that ``--help`` stays fast.  ``bench`` and ``eval``
commands all get ``--json`` and ``--quick``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol, cast

from citypulse._errors import CitypulseError, ConfigError
from citypulse._settings import Settings

log = logging.getLogger(__name__)


class CommandModule(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


@dataclass(frozen=True, slots=True)
class Command:
    path: tuple[str, ...]
    module: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command(("db", "migrate"), "citypulse.db._cli_migrate", "apply pending schema migrations"),
    Command(("db", "status"), "citypulse.db._cli_status", "show schema mode, migrations, policies"),
    Command(("db", "maintain"), "citypulse.db._cli_maintain", "run partition/rollup upkeep once"),
    Command(("ingest",), "ingest._cli", "store MQTT telemetry in the database"),
    Command(("detect",), "detectors._cli", "run anomaly detectors and open incidents"),
    Command(("serve",), "connectors._cli_serve", "serve the Open311 API and deliver appeals"),
    Command(("simulate",), "citypulse.simulator._cli", "publish a simulated city over MQTT"),
    Command(("devices", "add"), "citypulse._cli_devices", "register a device and its MQTT login"),
    Command(("devices", "login"), "citypulse._cli_logins", "create a service's MQTT login"),
    Command(("devices", "list"), "citypulse._cli_devices_list", "list devices and their logins"),
    Command(("grafana", "build"), "grafana._cli_build", "write dashboards JSON into grafana/"),
    Command(("grafana", "publish"), "grafana._cli_publish", "publish dashboards to a Grafana"),
    Command(("demo",), "citypulse._demo", "run the whole system on embedded defaults"),
    Command(("bench", "ingest"), "ingest._bench", "measure ingest throughput and latency"),
    Command(("bench", "detect"), "detectors._bench", "measure detector throughput"),
    Command(
        ("bench", "detect-latency"),
        "detectors._bench_latency",
        "measure publish-to-incident latency",
    ),
    Command(("bench", "grafana"), "grafana._bench", "time every dashboard query"),
    Command(("bench", "soak"), "citypulse._soak", "the whole pipeline under sustained load"),
    Command(("eval", "nab"), "detectors._eval_nab", "score detectors on NAB-format data"),
    Command(("eval", "scenario"), "detectors._eval_scenario", "score incidents on a simulation"),
    Command(
        ("bench", "api"), "connectors._bench_api", "measure the Open311 API and appeal writing"
    ),
    Command(("keys", "add"), "connectors._cli_keys", "create an API key (printed once)"),
    Command(("keys", "revoke"), "connectors._cli_keys_revoke", "revoke an API key"),
    Command(("deliver",), "connectors._cli_deliver", "deliver appeals from the outbox"),
    Command(("bench", "delivery"), "connectors._bench", "measure webhook delivery from the outbox"),
)

_GROUP_HELP = {
    "db": "schema migrations and upkeep",
    "devices": "device registry and MQTT credentials",
    "grafana": "dashboards as code",
    "bench": "benchmarks that print what they measured",
    "eval": "detector evaluation",
    "keys": "API keys for the governance center's API",
}


def stop_on_signals(stop: Callable[[], object], who: str) -> None:
    """Call ``stop`` on SIGTERM or SIGINT, for a long-running command (a clean shutdown)."""

    def handler(signum: int, frame: object) -> None:
        log.info("%s: signal %d, stopping", who, signum)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _load(command: Command) -> ModuleType | None:
    try:
        return importlib.import_module(command.module)
    except ModuleNotFoundError as exc:
        if exc.name and command.module.startswith(exc.name):
            return None  # not built yet
        raise


def _not_available(args: argparse.Namespace, settings: Settings) -> int:
    print(f"citypulse {' '.join(args.command_path)}: not available in this build", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citypulse",
        description="Turns what a city's field devices see into appeals for the governance center.",
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (env CITYPULSE_DATABASE_URL)")
    parser.add_argument("--mqtt-url", help="mqtt:// or mqtts:// URL (env CITYPULSE_MQTT_URL)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (env CITYPULSE_LOG_LEVEL)")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for command in COMMANDS:
        module = _load(command)
        container = top
        if len(command.path) == 2:
            group = command.path[0]
            if group not in groups:
                gp = top.add_parser(group, help=_GROUP_HELP[group], description=_GROUP_HELP[group])
                groups[group] = gp.add_subparsers(
                    dest="subcommand", metavar="SUBCOMMAND", required=True
                )
            container = groups[group]
        doc = (module.__doc__ or "").strip() if module else ""
        sub = container.add_parser(
            command.path[-1],
            help=command.help + ("" if module else " (not available yet)"),
            description=doc or command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if command.path[0] in ("bench", "eval"):
            sub.add_argument("--json", action="store_true", help="print a JSON result on stdout")
            sub.add_argument("--quick", action="store_true", help="a small run, under a minute")
        if module is None:
            sub.set_defaults(handler=_not_available)
        else:
            cmd = cast(CommandModule, module)
            cmd.configure(sub)
            sub.set_defaults(handler=cmd.run)
        sub.set_defaults(command_path=command.path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        overrides: dict[str, object] = {"database_url": args.database_url}
        if args.mqtt_url:
            from citypulse._settings import MqttUrl

            overrides["mqtt"] = MqttUrl.parse(args.mqtt_url)
        if args.log_level:
            overrides["log_level"] = args.log_level.upper()
        settings = settings.with_overrides(**overrides)
        logging.basicConfig(
            level=settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        return int(args.handler(args, settings))
    except ConfigError as exc:
        print(f"citypulse: configuration error: {exc}", file=sys.stderr)
        return 2
    except CitypulseError as exc:
        print(f"citypulse: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
