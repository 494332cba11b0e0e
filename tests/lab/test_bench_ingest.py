"""`citypulse bench ingest` runs end to end and reports every figure it promises.

Not a timed test: it asserts that each phase ran to completion and printed a positive
figure, never what the figure is.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_ingest_runs_every_phase_and_prints_json() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "citypulse.cli",
            "bench",
            "ingest",
            "--quick",
            "--json",
            "--messages",
            "3000",
            "--rounds",
            "2",
            "--seconds",
            "1",
            "--rate",
            "1000",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    for key in (
        "ceiling_msg_per_s",
        "fastclient_ceiling_msg_per_s",
        "ingest_rows_per_s",
        "naive_rows_per_s",
        "latency_offered_msg_per_s",
        "batch_readings_per_s",
        "copy_ceiling_rows_per_s",
    ):
        assert result[key] > 0, key
    assert result["latency_p99_ms"] >= result["latency_p50_ms"] > 0
    assert set(result["targets_met"]) == {
        "vs_ceiling>=0.6",
        "vs_naive>=10",
        "p99<=250ms",
        "batch>=150k/s",
    }
    for key in (
        "ceiling_msg_per_s_each_round",
        "ingest_rows_per_s_each_round",
        "fastclient_ceiling_msg_per_s_each_round",
        "batch_readings_per_s_each_round",
        "copy_ceiling_rows_per_s_each_round",
    ):  # the second round writes readings of its own times, beside the first's
        assert len(result[key]) == 2, key
        assert min(result[key]) > 0, key
    for phase in ("(a)", "(a')", "(b)", "(c)", "(d)", "(e)", "(e')"):
        assert phase in done.stderr
