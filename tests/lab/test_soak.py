"""The whole pipeline as separate processes, briefly: nothing lost, no secret in any log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citypulse.cli import main
from lab._soak import _leaks


def test_leak_check_finds_a_secret_in_any_log(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("connecting to postgresql://u:***@db/x\n")
    (tmp_path / "b.log").write_text("oops: key s3cr3t-key in a traceback\n")
    found = _leaks(tmp_path, {"API key": "s3cr3t-key", "password": "pw-never-logged"})
    assert found == ["API key"]


@pytest.mark.slow
def test_short_soak_loses_nothing_and_logs_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "soak", "--minutes", "0.4", "--log-level", "DEBUG", "--json"]
    code = main(argv)
    result = json.loads(capsys.readouterr().out)
    assert result["readings_expected"] > 100
    assert result["lost"] == 0
    assert result["duplicates"] == 0
    assert result["readings_stored"] == result["readings_expected"]
    assert result["secrets_in_logs"] == []
    assert result["crashed"] == []
    assert set(result["memory_kib"]) == {"ingest-1", "ingest-2", "detect", "serve"}
    assert code == 0
