"""citypulse simulate: the named cities and --dry-run's account of what a run offers."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from citypulse import Settings
from simulator import _cli


def main(argv: list[str]) -> int:
    """``citypulse simulate …`` through the command's own parser (not every command's)."""
    parser = argparse.ArgumentParser(prog="citypulse simulate")
    _cli.configure(parser)
    return _cli.run(parser.parse_args(argv[1:]), Settings.from_env({}))


def test_dry_run_prints_rates_batches_and_devices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = tmp_path / "truth.jsonl"
    argv = ["simulate", "--intersections", "9", "--duration", "10m", "--dry-run"]
    argv += ["--batch", "120", "--random-faults", "2000", "--ground-truth", str(truth)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "nothing published" in out
    rates = next(line for line in out.splitlines() if line.startswith("readings/s"))
    assert float(rates.split()[1]) > 0
    assert "of telemetry" in rates
    assert "0.0% of telemetry" not in rates
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    assert table["traffic_light"][0] == "9"
    assert table["camera"][0] == "36"
    assert table["camera"][3] == "120"  # every kind's batch window
    assert truth.read_text().count("\n") >= 1  # faults recorded as ground truth


def test_city_and_intersections_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--city", "large", "--intersections", "4", "--dry-run"])
    assert exit_.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
