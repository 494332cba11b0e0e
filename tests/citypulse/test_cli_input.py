"""Wrong input gets one line, never a traceback.

The real parser is walked: every command, every option that takes a value, found through
argparse's actions and their ``type``.  Each gets the wrong values of every kind that
applies to its type (negative, zero, out of range, not a number, a malformed time, URL
or duration, a choice that is not one) and must be refused while parsing: exit code 2,
argparse's usage and one error line naming the option.  An option whose type the test
does not know fails the test, so a new option cannot skip the checks (a bare ``int`` or
``float`` among them: use the kernel's ``positive_int`` and kin).  Then the commands the
issue names run for real, as ``python -m citypulse.cli``, wrong or pointed at a closed
port (127.0.0.1:1): one line (after the usage for parse errors), exit 2 for wrong input
and 1 for an unreachable service.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from citypulse import (
    FloatRange,
    IntRange,
    folder,
    http_url,
    iso_time,
    iso_week,
    positive_duration,
    seed_list,
    severity_list,
    slug,
)
from citypulse._args import database_url, log_level, mqtt_url
from citypulse.cli import build_parser, commands
from citypulse.devices import broker_user

ROOT = Path(__file__).parents[2]
#: Types whose every value is acceptable to argparse (free text, file names).
FREE = (None, str, Path)


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The top-level parser and every command's parser, with its path."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser
        return
    if not path:
        yield path, parser
    for name, sub in subparsers[0].choices.items():
        yield from _commands(sub, (*path, name))


def _takes_value(action: argparse.Action) -> bool:
    return bool(action.option_strings) and action.nargs != 0


def _numbers(t: IntRange | FloatRange) -> list[tuple[str, str]]:
    wrong = [("not a number", "x")]
    if isinstance(t, IntRange):
        wrong.append(("not an integer", "1.5"))
    else:
        wrong += [("not finite", "nan"), ("not finite", "inf")]
    low = t.low
    if isinstance(t, FloatRange) and t.above is not None:
        wrong.append(("zero" if t.above == 0 else "at the bound", f"{t.above:g}"))
        low = t.above
    if low is not None:
        below = low - 1
        wrong.append(
            ("zero" if below == 0 else "negative" if below < 0 else "too low", f"{below:g}")
        )
        if low > -5:
            wrong.append(("negative", "-5"))
    if t.high is not None:
        wrong.append(("out of range", f"{t.high + 1:g}"))
    return wrong


def wrong_values(action: argparse.Action) -> list[tuple[str, str]]:
    """(kind, text) of every wrong value for this option; [] when any text is right."""
    t = action.type
    if action.choices is not None:
        return [("not a choice", "no-such-choice")]
    if isinstance(t, IntRange | FloatRange):
        return _numbers(t)
    known: dict[object, list[tuple[str, str]]] = {
        iso_time: [
            ("malformed time", "yesterday"),
            ("time without offset", "2026-03-01T00:00"),
            ("impossible time", "2026-02-30T00:00+03:00"),
        ],
        iso_week: [("malformed week", "2026-48"), ("no such week", "2027-W53")],
        positive_duration: [("malformed duration", "soon"), ("zero", "0"), ("negative", "-90")],
        database_url: [
            ("malformed URL", "notaurl"),
            ("other scheme", "mysql://127.0.0.1/x"),
            ("port out of range", "postgresql://127.0.0.1:99999/x"),
        ],
        mqtt_url: [
            ("malformed URL", "notaurl"),
            ("other scheme", "http://127.0.0.1"),
            ("port out of range", "mqtt://127.0.0.1:99999"),
        ],
        http_url: [("malformed URL", "notaurl"), ("port out of range", "http://127.0.0.1:99999")],
        log_level: [("unknown level", "LOUD")],
        seed_list: [
            ("not a number", "1,x"),
            ("negative", "1,-2"),
            ("empty item", "1,,2"),
            ("repeated", "1,1"),
        ],
        severity_list: [
            ("zero", "0.5,0"),
            ("empty item", "1,,2"),
            ("repeated", "1,1"),
            ("not finite", "nan"),
        ],
        slug: [("not a slug", "a/b"), ("not a slug", "район")],
        folder: [("a file, not a folder", str(ROOT / "README.md"))],
        broker_user: [("no such user", "no-such-user-here"), ("user without group", "4321")],
    }
    if t in known:
        return known[t]
    name = f"{getattr(t, '__module__', '')}.{getattr(t, '__qualname__', repr(t))}"
    if name == "simulator._cli._speed":
        return [("negative", "-1"), ("not a number", "fast"), ("not finite", "nan")]
    if name == "lab._eval_scenario.city_setting":
        return [
            ("no value", "collapse_expected"),
            ("unknown threshold", "no_such=1"),
            ("not a number", "collapse_expected=x"),
            ("zero", "collapse_expected=0"),
            ("not finite", "collapse_expected=inf"),
            ("not an integer", "lamp_reports=1.5"),
        ]
    if name == "lab._bench_broker.autosave_spec":
        return [("malformed setting", "often"), ("zero", "changes:0"), ("no unit", "60")]
    if t in FREE:
        return []
    raise AssertionError(
        f"{'/'.join(action.option_strings)}: a type the test does not know: {name}"
    )


def _valid(action: argparse.Action) -> str:
    """A value the parser accepts, for the arguments a command requires."""
    if action.choices is not None:
        return str(next(iter(action.choices)))
    return "d1" if action.type is slug else "cam-1"


#: One parser for every case: building it reads the entry points, parsing is cheap.
PARSER = build_parser()


def _cases() -> Iterator[object]:
    for path, parser in _commands(PARSER):
        required = [
            a
            for a in parser._actions
            if a.required and not isinstance(a, argparse._SubParsersAction)
        ]
        for action in parser._actions:
            if not _takes_value(action):
                continue
            fill: list[str] = []
            for other in required:
                if other is not action:
                    fill += [*other.option_strings[:1], _valid(other)]
            option = action.option_strings[0]
            for kind, value in wrong_values(action):
                argv = (
                    [option, value, "db", "status"] if not path else [*path, *fill, option, value]
                )
                yield pytest.param(
                    argv, option, id=f"{' '.join(path) or 'citypulse'} {option} {kind}: {value}"
                )


CASES = list(_cases())


def test_the_walk_finds_every_command_and_option() -> None:
    ids = {case.id for case in CASES}  # type: ignore[attr-defined]
    for expected in (
        "citypulse --database-url malformed URL: notaurl",
        "citypulse --log-level unknown level: LOUD",
        "ingest --batch-size negative: -5",
        "detect --from malformed time: yesterday",
        "simulate --start malformed time: yesterday",
        "serve --port out of range: 65536",
        "demo --hours zero: 0",
        "devices add --lat out of range: 91",
        "bench soak --minutes zero: 0",
    ):
        assert expected in ids
    walked = {path for path, _ in _commands(build_parser())}
    assert walked == {(), *(c.path for c in commands())}


@pytest.mark.parametrize(("argv", "option"), CASES)
def test_a_wrong_value_is_refused_while_parsing(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        PARSER.parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    *usage, line = err.splitlines()
    assert usage[0].startswith("usage: citypulse"), err
    assert all(u.startswith(" ") for u in usage[1:]), err
    assert ": error: argument " + option in line, err
    assert "Traceback" not in err


UNREACHABLE = "postgresql://u:hunter2@127.0.0.1:1/x"
T1, T2 = "2026-01-02T00:00+00:00", "2026-01-03T00:00+00:00"
WEBHOOK = {
    "CITYPULSE_CONNECTORS": "webhook",
    "CITYPULSE_WEBHOOK_URL": "http://127.0.0.1:1/hook",
    "CITYPULSE_WEBHOOK_SECRET": "s",
}

# (command line, exit code, what the last line says, environment)
RUNS: list[tuple[str, int, str, dict[str, str]]] = [
    ("--database-url notaurl db status", 2, "--database-url: not a postgresql:// URL", {}),
    ("--log-level LOUD db status", 2, "--log-level: must be DEBUG", {}),
    ("ingest --batch-size -5", 2, "--batch-size: must be at least 1, got -5", {}),
    ("simulate --start yesterday", 2, "--start: not an ISO-8601 time", {}),
    ("serve --port 99999", 2, "--port: must be 0..65535, got 99999", {}),
    ("demo --hours 0", 2, "--hours: must be 1..720, got 0", {}),
    (f"detect --listener none --from {T2} --to {T1}", 2, "--from/--to: --to", {}),
    (
        "db status",
        2,
        "CITYPULSE_DATABASE_URL: not a postgresql:// URL",
        {"CITYPULSE_DATABASE_URL": "x"},
    ),
    (
        "grafana publish --url http://127.0.0.1:1 --token t",
        2,
        "CITYPULSE_GRAFANA_DB_USER: not set: set it (and CITYPULSE_GRAFANA_DB_PASSWORD)",
        {},
    ),
    (f"--database-url {UNREACHABLE} db status", 1, "cannot connect to", {}),
    (f"--database-url {UNREACHABLE} keys add --name a --role admin", 1, "cannot connect to", {}),
    (
        f"--database-url {UNREACHABLE} detect --listener none --from {T1} --to {T2}",
        1,
        "cannot connect to",
        {},
    ),
    (f"--database-url {UNREACHABLE} serve --port 0", 1, "cannot connect to", {}),
    (f"--database-url {UNREACHABLE} deliver --once", 1, "cannot connect to", WEBHOOK),
]


def test_wrong_or_unreachable_is_one_line_from_the_console_script(tmp_path: Path) -> None:
    """All at once, each in its own interpreter (several seconds in sequence)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CITYPULSE_")}
    base["PYTHONPATH"] = str(ROOT)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "citypulse.cli", *argv.split()],
            cwd=tmp_path,
            env={**base, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv, _, _, env in RUNS
    ]
    for proc, (argv, code, says, _) in zip(procs, RUNS, strict=True):
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, f"{argv}:\n{err}"
        *before, line = err.splitlines()
        assert (proc.returncode, says in line) == (code, True), f"{argv}: {proc.returncode}\n{err}"
        if ": error: argument " in line:
            assert before[0].startswith("usage: citypulse"), f"{argv}:\n{err}"
            assert all(b.startswith(" ") for b in before[1:]), f"{argv}:\n{err}"
        else:
            assert before == [], f"{argv}: more than one line:\n{err}"
            assert line.startswith("citypulse: "), line
        assert "hunter2" not in err
