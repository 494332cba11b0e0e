"""``citypulse eval nab`` end to end on small synthetic NAB-format data."""

from __future__ import annotations

import csv
import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citypulse.cli import main
from lab._eval_nab import evaluate


def _row(start: datetime, i: int, x: float) -> tuple[str, str]:
    """Row ``i`` of a series sampled every 5 minutes from ``start``."""
    return (start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S"), f"{x:.3f}"


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        w.writerows(rows)


def _write_corpus(root: Path) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    windows: dict[str, list[list[str]]] = {}
    for name, spike in (("cat/a.csv", 700), ("cat/b.csv", None), ("other/c.csv", 900)):
        rows = []
        for i in range(1000):
            x = 10 + 3 * math.sin(i / 20) + (i % 7) * 0.1
            if spike is not None and spike <= i < spike + 3:
                x += 60
            rows.append(_row(start, i, x))
        _write_csv(root / name, rows)
        windows[name] = []
        if spike is not None:
            lo = start + timedelta(minutes=5 * (spike - 40))
            hi = start + timedelta(minutes=5 * (spike + 40))
            windows[name].append(
                [lo.strftime("%Y-%m-%d %H:%M:%S.%f"), hi.strftime("%Y-%m-%d %H:%M:%S.%f")]
            )
    (root / "windows.json").write_text(json.dumps(windows))


def test_scores_are_written_on_exactly_the_input_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    _write_corpus(data)
    assert main(["eval", "nab", str(data), "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["profiles"]) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert doc["files"] == 3
    assert doc["windows"] == 2
    # obvious spikes inside both windows, nothing else: close to perfect
    assert doc["profiles"]["standard"]["score"] > 80
    for name in ("cat/a.csv", "cat/b.csv", "other/c.csv"):
        with (data / name).open() as fh:
            src = list(csv.reader(fh))
        with (out / name).open() as fh:
            got = list(csv.reader(fh))
        assert got[0] == ["timestamp", "value", "anomaly_score"]
        assert [r[:2] for r in got[1:]] == src[1:]
        assert all(0.0 <= float(r[2]) <= 1.0 for r in got[1:])


def test_labels_may_lie_outside_the_data_as_in_a_nab_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NAB keeps its windows in labels/combined_windows.json beside data/: ``--labels``
    scores the same as the windows file in the data folder."""
    _write_corpus(tmp_path / "here")
    _write_corpus(tmp_path / "NAB" / "data")
    labels = tmp_path / "NAB" / "labels" / "combined_windows.json"
    labels.parent.mkdir()
    (tmp_path / "NAB" / "data" / "windows.json").rename(labels)
    assert main(["eval", "nab", str(tmp_path / "here"), "--json"]) == 0
    beside = json.loads(capsys.readouterr().out)
    data = str(tmp_path / "NAB" / "data")
    assert main(["eval", "nab", data, "--labels", str(labels), "--json"]) == 0
    apart = json.loads(capsys.readouterr().out)
    assert apart["profiles"] == beside["profiles"]
    assert apart["windows"] == 2
    assert main(["eval", "nab", data]) == 1  # no windows.json there and no --labels
    assert "cannot read labels" in capsys.readouterr().err


def test_null_detector_scores_zero(tmp_path: Path) -> None:
    _write_corpus(tmp_path)
    results, _ = evaluate(tmp_path, preset="null")
    assert [round(r.normalised, 9) for r in results] == [0.0, 0.0, 0.0]


def test_a_window_naming_a_missing_timestamp_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_corpus(tmp_path)
    (tmp_path / "windows.json").write_text(
        json.dumps({"cat/a.csv": [["2031-01-01 00:00:00.000000", "2031-01-02 00:00:00.000000"]]})
    )
    assert main(["eval", "nab", str(tmp_path)]) == 1
    assert "does not match a timestamp" in capsys.readouterr().err


def test_human_summary_names_every_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_corpus(tmp_path)
    assert main(["eval", "nab", str(tmp_path), "--detector", "deviation"]) == 0
    text = capsys.readouterr().out
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert profile in text
    loco = [line for line in text.splitlines() if "leave-one-category-out" in line]
    assert [line.split()[0] for line in loco] == [
        "standard",
        "reward_low_FP_rate",
        "reward_low_FN_rate",
    ]
    assert all("cat " in line and "other " in line for line in loco)


def test_json_carries_the_leave_one_category_out_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_corpus(tmp_path)
    assert main(["eval", "nab", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for profile in doc["profiles"].values():
        loco = profile["leave_one_category_out"]
        assert set(loco["thresholds"]) == {"cat", "other"}
        assert isinstance(loco["score"], float)


def _write_flat_day_corpus(root: Path) -> None:
    """Ten days of a daily wave at 5-minute steps; in one file day 8 stays flat at the mean."""
    start = datetime(2020, 1, 6, tzinfo=UTC)
    rng = random.Random(5)
    windows: dict[str, list[list[str]]] = {}
    for name, flat_day in (("daily/a.csv", 8), ("daily/b.csv", None)):
        rows = []
        for i in range(288 * 10):
            x = 50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 1)
            if flat_day is not None and i // 288 == flat_day:
                x = 50 + rng.gauss(0, 1)  # every value is common, just not at this hour
            rows.append(_row(start, i, x))
        _write_csv(root / name, rows)
        windows[name] = []
        if flat_day is not None:
            centre = start + timedelta(minutes=5 * (flat_day * 288 + 40))
            windows[name].append(
                [
                    (centre - timedelta(minutes=500)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                    (centre + timedelta(minutes=500)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                ]
            )
    (root / "windows.json").write_text(json.dumps(windows))


def test_default_notices_a_day_without_its_peak(tmp_path: Path) -> None:
    """The time-of-day view of the default finds what level-based detectors cannot."""
    _write_flat_day_corpus(tmp_path)
    scores = {
        preset: evaluate(tmp_path, preset=preset)[0][0].normalised
        for preset in ("default", "deviation_novelty", "deviation")
    }
    assert scores["default"] > 50.0
    assert scores["deviation_novelty"] < 25.0
    assert scores["deviation"] < 25.0


def test_detector_city_runs_what_the_city_set_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--detector city`` is the learned stream whose views a parking monitor watches its
    lot with, arguments and all (the lot reads the views, NAB the score): on every row the
    two learn the same, and the scores are that detector's."""
    from citypulse import Device, DeviceKind
    from detectors._city import CityConfig, ParkingMonitor
    from detectors._learned import learned_stream, learned_views
    from detectors._presets import nab_detector
    from lab._eval_nab import detect, load_corpus
    from tests.detectors._cases import views_of

    lot = ParkingMonitor(
        Device(id="pk-1", kind=DeviceKind.PARKING, report_interval_s=300.0), CityConfig()
    )
    assert repr(nab_detector("city")) == repr(learned_stream())
    assert repr(lot.occupancy) == repr(learned_views())
    _write_flat_day_corpus(tmp_path)
    data, _ = load_corpus(tmp_path)
    for df in data:
        own, views = learned_stream(), lot.occupancy.clone()
        expected = []
        for t, x in zip(df.times, df.values, strict=True):
            expected.append(own.update(t, x))
            views.update(t, x)
            assert views_of(views) == views_of(own.stream)
        assert detect(df, "city", 0) == expected
    assert main(["eval", "nab", str(tmp_path), "--detector", "city", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["detector"] == "city"
    assert doc["profiles"]["standard"]["score"] > 50.0
