"""``citypulse report week``: the file it writes, the default week, and a wrong --week
refused in one line with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from citypulse import cli
from tests.appeals.analysis._week_data import write_week

COMMAND = cli.Command(("report", "week"), "appeals._cli_report_week")


@pytest.fixture(autouse=True)
def declared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command as pyproject.toml declares it, also where the installed metadata is
    older than this checkout."""
    installed = cli.commands()
    if COMMAND not in installed:
        monkeypatch.setattr(cli, "commands", lambda: (*installed, COMMAND))


def test_the_report_of_a_week_is_written(db_url: str, tmp_path: Path) -> None:
    write_week(db_url)
    out = tmp_path / "week.html"
    args = ["--database-url", db_url, "report", "week", "--week", "2026-W48", "--out", str(out)]
    assert cli.main(args) == 0
    html = out.read_text("utf-8")
    assert html.startswith("<!doctype html>")
    assert "48-я неделя 2026 года" in html
    assert "23.11.2026 — 29.11.2026" in html
    english = tmp_path / "week-en.html"
    assert cli.main([*args[:-1], str(english), "--lang", "en"]) == 0
    assert "week 48 of 2026" in english.read_text("utf-8")


def test_without_a_week_the_last_full_one_is_written(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "last.html"
    assert cli.main(["--database-url", db_url, "report", "week", "--out", str(out)]) == 0
    assert "неделя" in out.read_text("utf-8")


@pytest.mark.parametrize(
    ("week", "says"),
    [
        ("2026-48", "expected an ISO week like 2026-W48"),
        ("2027-W53", "2027 has no week 53"),
        ("W48", "expected an ISO week like 2026-W48"),
    ],
)
def test_a_wrong_week_is_one_line_and_exit_2(
    week: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.html"
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", "week", "--week", week, "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert f"argument --week: {says}" in errors[0]
    assert "Traceback" not in err
    assert not out.exists()
