"""`citypulse bench ingest` runs end to end and reports every figure it promises.

Not a timed test: it asserts that each phase ran to completion and printed a positive
figure, never what the figure is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from lab._bench_ingest import _Spent


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
    # where each drain's CPU went, per message or reading
    cpu = result["cpu_us_per_unit"]
    parts = {"postgres", "mosquitto", "machine", "cores"}
    assert set(cpu) == {"b", "a_fast", "e", "e_copy"}
    assert set(cpu["b"]) == set(cpu["e"]) == {"ingest", *parts}
    assert set(cpu["a_fast"]) == {"reader", *parts}
    assert set(cpu["e_copy"]) == {"copy", *parts}
    assert cpu["b"]["ingest"] > 0
    assert cpu["b"]["postgres"] > 0  # the rows were written
    assert cpu["e_copy"]["postgres"] > 0
    assert cpu["a_fast"]["reader"] > 0
    assert 0 < cpu["b"]["cores"] <= result["cores"] + 0.5
    assert result["ingest_cpu_bound_rows_per_s"] > 0


def test_spent_counts_this_process_apart_from_the_processes_it_started() -> None:
    """The bench starts the broker: its CPU is the broker's, not ingest's."""
    burn = (
        "import sys, time\n"
        "sys.stdin.readline()\n"
        "until = time.process_time() + 0.5\n"
        "while time.process_time() < until: pass\n"
        "print('done', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            spent = _Spent("me", {"child": child.pid})
            with spent.phase(1000):
                child.stdin.write("go\n")
                child.stdin.flush()
                until = time.process_time() + 0.2
                while time.process_time() < until:
                    pass
                assert child.stdout.readline() == "done\n"  # its whole burn is in the phase
        finally:
            child.kill()
    us = spent.per_unit_us()
    assert 180.0 <= us["me"] <= 300.0  # 0.2 s of CPU over 1,000 units
    assert us["child"] >= 450.0  # 0.5 s, counted in 10 ms ticks
    assert us["machine"] >= us["me"] + us["child"] - 40.0
    assert us["cores"] > 0.5
