"""The detection curve: pooling runs into figures, and (a benchmark) the sweep itself."""

from __future__ import annotations

import math
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from lab._eval_scenario import Found, Score, TypeScore
from lab._eval_sweep import run_sweep, summarise


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
    assert curve["fault_free"]["false_per_1000_device_days"] >= 0.0
