"""The detection curve: pooling runs into figures, and (a benchmark) the sweep itself."""

from __future__ import annotations

import json
import math
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from citypulse.cli import main
from lab._eval_scenario import Found, Score, TypeScore
from lab._eval_sweep import plot_curve, print_sweep, run_sweep, summarise


def _score(found: int, pairs: int, incidents: int, explained: int, delays: list[float]) -> Score:
    return Score(
        by_type={"spike": TypeScore(pairs=pairs, found=found, incidents=explained, delays=delays)},
        incidents=incidents,
        explained=explained,
        unexplained=[Found(i, "anomaly", "cam-1", 0.0) for i in range(incidents - explained)],
        by_incident_type={"anomaly": (incidents, explained)},
    )


def test_runs_of_one_severity_are_pooled() -> None:
    runs = [_score(3, 4, 5, 4, [0.0, 60.0, 120.0]), _score(1, 2, 2, 2, [30.0])]
    figures = summarise(runs, device_days=500.0)
    spike, overall = figures["spike"], figures["overall"]
    assert spike.recall == pytest.approx(4 / 6)
    assert spike.precision == pytest.approx(6 / 7)
    assert spike.false_per_1000_device_days == pytest.approx(2.0)
    assert spike.median_delay_s == 45.0
    assert overall.recall == spike.recall
    assert overall.false == 1
    assert math.isnan(summarise([], device_days=1.0)["overall"].recall)


@pytest.mark.benchmark
def test_the_sweep_draws_every_severity_and_a_fault_free_run() -> None:
    with tempfile.TemporaryDirectory(prefix="citypulse-sweep-") as tmp:
        Path(tmp).chmod(0o755)  # the server may run as an unprivileged user
        curve = run_sweep(
            seeds=(1,),
            start=datetime.fromisoformat("2026-03-02T00:00:00+03:00"),
            days=0.25,
            warmup_days=0.1,
            rate=40.0,
            directory=Path(tmp),
        )
    assert list(curve["severities"]) == ["0.25", "0.5", "1", "2"]
    for row in curve["severities"].values():
        assert 0.0 <= row["recall"] <= 1.0
        assert "precision" in row
        assert row["by_fault_type"]
    free = curve["fault_free"]
    assert free["false_per_1000_device_days"] >= 0.0
    assert sum(free["by_incident_type"].values()) == free["incidents"]


@pytest.mark.slow
def test_parallel_runs_give_the_same_curve_as_one_after_another() -> None:
    def curve(jobs: int) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="citypulse-sweep-") as tmp:
            Path(tmp).chmod(0o755)
            return run_sweep(
                seeds=(2, 5),
                start=datetime.fromisoformat("2026-03-02T00:00:00+03:00"),
                days=0.1,
                warmup_days=0.05,
                rate=60.0,
                severities=(1.0,),
                directory=Path(tmp),
                jobs=jobs,
            )

    serial, parallel = curve(1), curve(2)
    assert serial["severities"]["1"]["by_fault_type"]  # faults were injected and scored
    # NaN (no such incident) is unequal to itself: compare the printed curves
    assert json.dumps(parallel, sort_keys=True) == json.dumps(serial, sort_keys=True)


def _curve() -> dict[str, Any]:
    def fig(recall: float) -> dict[str, float]:
        return {"recall": recall, "precision": 1.0}

    return {
        "seeds": [1],
        "days": 1.0,
        "devices": 10,
        "severities": {
            "0.5": {**fig(0.5), "by_fault_type": {"spike": fig(0.25), "drift": fig(0.75)}},
            "1": {**fig(1.0), "by_fault_type": {"spike": fig(1.0), "drift": fig(float("nan"))}},
        },
        "fault_free": {"incidents": 0, "false_per_1000_device_days": 0.0},
    }


def test_the_plot_draws_recall_against_severity_per_fault_type(tmp_path: Path) -> None:
    path = tmp_path / "curve.svg"
    plot_curve(_curve(), path)
    root = ET.fromstring(path.read_text())
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    by_name = {line.findtext(f"{ns}title") or "": line.get("points", "").split() for line in lines}
    assert sorted(by_name) == ["drift", "overall", "spike"]
    assert len(by_name["drift"]) == 1  # its recall at severity 1 is unknown: no point there
    keys = [t.text for t in root.findall(f"{ns}text")]
    assert {"drift", "spike", "overall", "fault severity", "recall"} <= set(keys)
    (xa, ya), (xb, yb) = (map(float, p.split(",")) for p in by_name["spike"])
    assert xb > xa
    assert ya > yb  # recall 0.25 drawn lower than recall 1 (SVG y grows downwards)


def test_plot_without_sweep_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "scenario", "--plot", "x.svg"]) == 2
    assert "--plot" in capsys.readouterr().err


def test_plot_into_a_missing_directory_is_refused_before_the_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "missing" / "curve.svg"
    assert main(["eval", "scenario", "--sweep", "--plot", str(plot)]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_jobs_without_sweep_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "scenario", "--jobs", "2"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_severities_without_sweep_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "scenario", "--severities", "1"]) == 2
    assert "--severities" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["", "1,,2", "0.5,0", "1,1", "x"])
def test_a_wrong_severity_list_is_exit_2(value: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["eval", "scenario", "--sweep", "--severities", value])
    assert exc.value.code == 2


def test_the_printed_curve_names_what_the_fault_free_run_raised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    row = {"recall": 1.0, "precision": 1.0, "false_per_1000_device_days": 0.0}
    row["median_delay_s"] = 60.0
    curve = {**_curve(), "severities": {"1": {**row, "by_fault_type": {"spike": row}}}}
    curve["fault_free"] = {
        "incidents": 3,
        "false_per_1000_device_days": 0.96,
        "by_incident_type": {"camera_obstructed": 1, "device_silent": 2},
    }
    curve["settings"] = {"collapse_expected": 12.0}
    print_sweep(curve)
    out = capsys.readouterr().out
    assert "city set with collapse_expected=12" in out
    assert "no faults: 3 incidents (camera_obstructed 1, device_silent 2), 0.96 per" in out
