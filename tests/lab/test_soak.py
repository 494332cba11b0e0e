"""The whole pipeline as separate processes, briefly: nothing lost, no secret in any log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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
    assert set(result["memory_kib"]) == {
        "ingest-1",
        "ingest-2",
        "detect-1",
        "detect-2",
        "serve",
        "mosquitto",
    }
    assert code == 0


@pytest.mark.slow
def test_soak_of_a_tiny_generated_city_reports_every_figure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "soak", "--intersections", "4", "--minutes", "0.3", "--speed", "20"]
    code = main([*argv, "--faults", "20000", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["readings_offered"] == result["readings_acknowledged"] > 100
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    assert result["readings_stored"] == result["readings_acknowledged"]
    assert result["publish_to_commit_ms"]["samples"] > 0
    assert result["publish_to_commit_ms"]["p99"] >= result["publish_to_commit_ms"]["p50"] > 0
    assert result["faults"] > 0
    assert 0.0 <= result["recall"] <= 1.0
    assert set(result["publish_to_incident_s"]) == {"p50", "p99", "max", "n"}
    assert result["appeals_delivered"] == result["appeals_received"]
    pipeline = {"ingest-1", "ingest-2", "detect-1", "detect-2", "serve"}
    assert pipeline | {"mosquitto", "postgres", "publishers"} == set(
        result["cpu_s_per_1000_readings"]
    )
    for name in pipeline:
        m = result["memory_kib"][name]
        assert 0 < m["start"] <= m["max"]
        assert 0 < m["warm"] <= m["max"]
        assert 0 < m["end"] <= m["max"]
        assert isinstance(m["growth_pct"], float)
        # the level at each end is a median of what was sampled there
        assert m["series"], name
        assert [t for t, _ in m["series"]] == sorted(t for t, _ in m["series"])
        sampled = {kib for _, kib in m["series"]}
        assert m["warm_median"] in sampled
        assert m["end_median"] in sampled
        assert isinstance(m["steady_growth_pct"], float)
    assert result["db_bytes_per_reading"]["raw"] > 0
    assert result["db_bytes_per_reading"]["rollups"] > 0
    assert result["db_bytes"]["checkpoints"] > 0  # the detect workers saved their states
    assert pipeline <= set(result["cpu_series"])
    for name in pipeline:  # processes without children: CPU time so far never falls
        spent = [cpu for _, cpu in result["cpu_series"][name]]
        assert spent, name
        assert spent == sorted(spent), name
    assert result["timescale_compression_ratio"] == "not available"  # plain PostgreSQL
    assert result["rollup_lag_s"]["markers"] > 0
    assert result["rollup_lag_s"]["max"] < 60.0
    assert result["saturation"]["verdict"]
    assert result["crashed"] == []
    assert code == 0


@pytest.mark.benchmark
def test_find_capacity_steps_up_until_the_pipeline_gives_way(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "soak", "--intersections", "4", "--find-capacity", "--speed", "20"]
    code = main([*argv, "--step-minutes", "0.3", "--max-steps", "2", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert 1 <= len(out["steps"]) <= 2
    assert out["steps"][0]["speed"] == 20
    assert out["saturated_first"]
    assert code == 0


def _group_alive(pgid: int) -> list[str]:
    """The command lines of the processes still in process group ``pgid``."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return alive


@pytest.mark.slow
def test_ctrl_c_stops_the_soak_and_every_process_it_started() -> None:
    # Ctrl-C in a terminal signals the whole foreground group: the soak, its publishers,
    # the pipeline, PostgreSQL and Mosquitto.  It used to end with a publisher's broker
    # error (exit 1), or hang while publishers kept their connections.
    argv = [sys.executable, "-m", "citypulse.cli", "bench", "soak", "--quick", "--publishers", "2"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    assert proc.stderr is not None
    err = b""
    try:
        deadline = time.monotonic() + 120
        while b"soak: " not in err and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            err += line
        assert b"soak: " in err, err.decode()
        time.sleep(3.0)  # publishing
        os.killpg(proc.pid, signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
        err += rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err.decode()[-2000:]
    assert b"interrupted" in err
    time.sleep(1.0)
    assert _group_alive(proc.pid) == []
