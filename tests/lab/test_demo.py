"""`citypulse demo` end to end in a short mode: its summary agrees with its database."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from citypulse.cli import main
from citypulse.db import count_readings, scalar
from lab._embedded import EmbeddedPostgres

pytestmark = pytest.mark.slow


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="citypulse-demo-") as d:
        os.chmod(d, 0o755)
        yield Path(d)


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
