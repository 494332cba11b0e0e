"""`citypulse demo` end to end in a short mode: its summary agrees with its database,
wrong values are refused before anything starts, and scripts/citypulse runs the checkout's
citypulse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from citypulse.cli import main
from citypulse.db import count_readings, scalar
from lab._embedded import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="citypulse-demo-") as d:
        os.chmod(d, 0o755)
        yield Path(d)


@pytest.mark.slow
def test_demo_summary_matches_the_database(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--data-dir", str(folder), "--hours", "2", "--serve", "no"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((folder / "summary.json").read_text())

    pg = EmbeddedPostgres(folder / "postgres").start()  # the data stayed in the folder
    try:
        with psycopg.connect(pg.url) as conn:
            readings = sum(count_readings(conn).values())
            assert summary["readings"] == readings > 10_000
            assert summary["devices"] == scalar(conn, "SELECT count(*) FROM devices") == 89
            assert (
                summary["incidents_opened"] == scalar(conn, "SELECT count(*) FROM incidents") >= 3
            )
            assert summary["appeals"] == scalar(
                conn, "SELECT count(*) FROM appeals WHERE source = 'sensor'"
            )
            assert summary["appeals"] == summary["incidents_opened"]
            # The three showcase faults were found and became appeals with Russian texts.
            types = {r[0] for r in conn.execute("SELECT type FROM incidents")}
            assert {"stuck_phase", "air_quality_exceedance", "device_silent"} <= types
            titles = [r[0] for r in conn.execute("SELECT title FROM appeals")]
    finally:
        pg.stop()
    assert f"{summary['appeals']} created from incidents" in out
    assert any("не переключается" in t for t in titles)
    assert any("Превышение ПДК" in t for t in titles)
    assert "Светофорный объект" in out
    report = Path(summary["report"]).read_text()
    assert "<svg" in report
    assert (folder / "operator-key.txt").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--hours", "0"],
        ["--hours", "-1"],
        ["--hours", "nan"],
        ["--hours", "inf"],
        ["--hours", "6h"],
        ["--hours", "100000"],
        ["--faults", "-1"],
        ["--faults", "nan"],
        ["--port", "0"],
        ["--port", "65536"],
        ["--port", "http"],
        ["--seed", "1.5"],
    ],
    ids=" ".join,
)
def test_wrong_values_are_refused_before_anything_starts(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "demo"
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--data-dir", str(data), *argv, "--serve", "no"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert errors == [errors[0]]
    assert errors[0].startswith(f"citypulse demo: error: argument {argv[0]}: ")
    assert argv[1] in errors[0]
    assert "Traceback" not in err
    assert not data.exists()  # nothing was started: the servers would have made it


def test_a_data_folder_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--data-dir", str(tmp_path / "file"), "--serve", "no"])
    assert exc.value.code == 2
    assert "argument --data-dir: " in capsys.readouterr().err


def test_scripts_citypulse_bootstraps_then_runs_the_checkout_citypulse(tmp_path: Path) -> None:
    """The wrapper keeps the caller's folder and arguments, and bootstrap's chatter off
    stdout (where ``--json`` goes)."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "citypulse", checkout / "scripts" / "citypulse")
    bootstrap = checkout / "scripts" / "bootstrap"
    bootstrap.write_text(
        '#!/usr/bin/env bash\ncd "$(dirname "$0")/.."\necho installing\n'
        'mkdir -p .venv/bin\nprintf \'#!/usr/bin/env bash\\nprintf "%%s\\\\n" "$PWD" "$@"\\n\''
        " > .venv/bin/citypulse\nchmod +x .venv/bin/citypulse\n"
    )
    bootstrap.chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [str(checkout / "scripts" / "citypulse"), "db", "status", "--json", "a b"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [str(elsewhere), "db", "status", "--json", "a b"]
    assert "installing" in done.stderr
