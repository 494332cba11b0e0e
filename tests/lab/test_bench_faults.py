"""`citypulse bench faults` runs each fault and prints figures that add up.  Not a timed
test, and small: tests/ingest/test_takeover.py and test_backpressure.py assert what the
figures must be."""

from __future__ import annotations

import argparse
import json

import pytest

from citypulse import Settings
from lab._bench_faults import LABELS, run


@pytest.mark.faults
@pytest.mark.slow
def test_bench_faults_prints_a_row_per_fault(capsys: pytest.CaptureFixture[str]) -> None:
    faults = ["dead-member", "db-outage", "broker-kill"]
    args = argparse.Namespace(
        fault=faults,
        messages=600,
        rate=300.0,
        outage=3.0,
        outage_readings=1000,
        takeover_after=3.0,
        autosave=None,
        devices=1,
    )
    assert run(args, Settings()) == 0
    out = capsys.readouterr().out.splitlines()
    rows = json.loads(out[-1])
    assert [r["fault"] for r in rows] == [LABELS[f] for f in faults]
    for row in rows:
        assert row["acknowledged"] > 0
        assert row["stored"] + row["lost"] == row["acknowledged"]
        assert row["duplicated"] >= 0
        assert row["recovery_s"] >= 0
    assert out[0].split()[:7] == [
        "fault", "autosave", "acknowledged", "stored", "lost", "duplicated", "recovery"
    ]  # fmt: skip
    assert {r["autosave"] for r in rows} == {"changes:1"}  # the shipped setting
    assert rows[2]["cost"]["acknowledged_per_s"] > 0  # measured for the broker SIGKILL only
    assert rows[0]["cost"] is None


@pytest.mark.faults
def test_bench_faults_measures_each_autosave_setting_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The backlog fault with two settings: what each lost, and what each cost the broker."""
    args = argparse.Namespace(
        fault=["broker-kill-backlog"],
        messages=200,
        rate=200.0,
        outage=3.0,
        outage_readings=1000,
        takeover_after=3.0,
        autosave=["changes:1", "changes:1000"],
        devices=2,
    )
    assert run(args, Settings()) == 0
    rows = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [r["autosave"] for r in rows] == ["changes:1", "changes:1000"]
    durable, rare = rows
    # Killed mid-stream: at most the messages of the turn being saved (one a connection)
    # may be lost (docs/deploy.md); tests/deploy/test_broker_crash.py asserts none.
    assert durable["lost"] <= 2
    assert rare["lost"] == rare["acknowledged"]  # fewer changes than 1,000: never saved
    assert durable["cost"]["write_bytes_per_1000"] > rare["cost"]["write_bytes_per_1000"]
    assert durable["cost"]["cpu_s_per_1000"] > 0
