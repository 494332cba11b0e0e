"""The console script: every command documents itself; wrong input exits 2 and a failure
exits 1, each with one line on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from citypulse.cli import build_parser, commands, main
from citypulse.db import load_migrations


@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c.path))
def test_every_command_has_help(command: object, capsys: pytest.CaptureFixture[str]) -> None:
    path = command.path  # type: ignore[attr-defined]
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*path, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: citypulse {' '.join(path)}" in out
    if path[0] in ("bench", "eval"):
        assert "--json" in out
        assert "--quick" in out


def test_every_package_declares_its_commands() -> None:
    """The commands come from the packages' entry points, each from the package that owns
    it; the kernel's own module names none of the stages."""
    owners = {c.path: c.module.split(".")[0] for c in commands()}
    assert owners[("ingest",)] == "ingest"
    assert owners[("detect",)] == "detectors"
    assert owners[("keys", "add")] == "appeals"
    assert owners[("deliver",)] == "connectors"
    assert owners[("simulate",)] == "simulator"
    assert owners[("demo",)] == "lab"
    assert {c.path[0] for c in commands() if c.module.startswith("lab.")} == {
        "demo",
        "bench",
        "eval",
    }
    source = (Path(__file__).parents[2] / "citypulse" / "cli.py").read_text("utf-8")
    for stage in ("ingest", "detectors", "appeals", "connectors", "grafana", "lab"):
        assert f"{stage}." not in source, stage


def test_configuration_error_exits_2_with_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CITYPULSE_SCHEMA_MODE", "mongo")
    assert main(["db", "status"]) == 2
    assert "CITYPULSE_SCHEMA_MODE" in capsys.readouterr().err


def test_db_migrate_and_status(empty_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database-url", empty_db_url, "db", "migrate", "--mode", "plain"]) == 0
    assert "schema mode: plain" in capsys.readouterr().out
    assert main(["--database-url", empty_db_url, "db", "status"]) == 0
    out = capsys.readouterr().out
    assert "mode:         plain" in out
    assert "0 pending" in out
    assert "raw_retention" in out
    assert main(["--database-url", empty_db_url, "db", "migrate"]) == 0
    versions = {m.version for m in load_migrations()}  # every helper adds its own
    assert f"0 applied, {len(versions)} already applied" in capsys.readouterr().out


def test_unreachable_database_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database-url", "postgresql://u:hunter2@127.0.0.1:1/x", "db", "status"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to postgresql://u:***@127.0.0.1:1/x" in err
    assert "hunter2" not in err


UNREACHABLE = "postgresql://u@127.0.0.1:1/x"
T1, T2 = "2026-01-02T00:00+00:00", "2026-01-03T00:00+00:00"


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_failing_command_prints_one_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--database-url", UNREACHABLE, "detect", "--listener", "none"]
    assert main([*argv, "--from", T1, "--to", T2]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"citypulse: cannot connect to {UNREACHABLE}: "), line
    assert "Connection refused Is the server running" in line  # libpq's hint, joined


# (command line after --database-url, the setting the one line names, environment): wrong
# input found only when the command runs (a value wrong on its own is refused while
# parsing: test_cli_input.py).
WRONG_INPUT: list[tuple[str, str, dict[str, str]]] = [
    ("db status", "CITYPULSE_LOG_LEVEL", {"CITYPULSE_LOG_LEVEL": "LOUD"}),
    ("db status", "CITYPULSE_READ_DATABASE_URL", {"CITYPULSE_READ_DATABASE_URL": "mysql://h/x"}),
    (f"detect --listener none --from {T2} --to {T1}", "--from/--to", {}),
    (f"detect --listener none --from {T1}", "--from/--to", {}),
    ("detect --listener none --partitions 4 --partition 4", "detect", {}),
    ("simulate --scenario {tmp}/bad.yaml --output {tmp}/out", "scenario", {}),
    (
        "devices add cam-1 --kind camera --district d1 --lat 54.5 --password-file {tmp}/passwd",
        "--lat/--lon",
        {},
    ),
    ("deliver --once", "CITYPULSE_CONNECTORS", {}),
    (
        "grafana publish --url http://127.0.0.1:1 --token t",
        "CITYPULSE_GRAFANA_DB_USER",
        {},
    ),
]


@pytest.mark.parametrize(
    ("argv", "setting", "env"), [pytest.param(*case, id=case[1]) for case in WRONG_INPUT]
)
def test_wrong_input_prints_one_line_and_exits_2(
    argv: str,
    setting: str,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in (
        "CITYPULSE_LOG_LEVEL",
        "CITYPULSE_READ_DATABASE_URL",
        "CITYPULSE_GRAFANA_DB_USER",
        "CITYPULSE_CONNECTORS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "bad.yaml").write_text("faults: 3\n")
    args = argv.replace("{tmp}", str(tmp_path)).split()
    assert main(["--database-url", UNREACHABLE, *args]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"citypulse: configuration error: {setting}: "), line
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "passwd").exists()
