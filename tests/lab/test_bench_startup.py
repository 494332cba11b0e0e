"""`citypulse bench startup` times every help page against `python -c pass` and prints
what it promises.  Not a timed test: it asserts the figures exist and are positive,
never what they are (tests/citypulse/test_cli_startup.py keeps start-up fast)."""

from __future__ import annotations

import argparse
import json

import pytest

from citypulse import Settings
from citypulse.cli import commands
from lab._bench_startup import run


@pytest.mark.slow
def test_bench_startup_times_every_help_page(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(runs=1, quick=True, json=True)
    assert run(args, Settings()) == 0
    result = json.loads(capsys.readouterr().out)
    pages = result["pages_s"]
    assert set(pages) == {"citypulse --help"} | {
        f"citypulse {' '.join(c.path)} --help" for c in commands()
    }
    for figure in (result["baseline_s"], result["help_uncached_s"], *pages.values()):
        assert figure > 0
    assert result["help_vs_baseline"] == pytest.approx(
        result["help_s"] / result["baseline_s"], 0.01
    )
    assert result["slowest"] in pages
