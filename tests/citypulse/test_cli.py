"""The console script: every command documents itself; bad configuration exits 2."""

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
