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
    assert out[0].split() == ["fault", "acknowledged", "stored", "lost", "duplicated", "recovery"]
