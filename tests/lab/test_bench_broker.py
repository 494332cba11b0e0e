"""`citypulse bench broker-crash` runs both autosave settings and prints its figures.  Not
a timed test: it asserts the figures exist and add up, never what they are
(tests/deploy/test_mosquitto.py asserts that the durable setting keeps what it acked)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from citypulse import Settings
from lab._bench_broker import SETTINGS, autosave_lines, autosave_spec, run, shipped_autosave


@pytest.mark.faults
def test_bench_broker_crash_measures_both_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argparse.Namespace(messages=40, window=10), Settings()) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    cases = {(c["setting"], c["ingest"]): c for c in result["cases"]}
    assert set(cases) == {(s, i) for s in SETTINGS for i in ("online", "away")}
    for case in cases.values():
        assert case["messages_per_s"] > 0
        assert case["write_bytes_per_1000"] >= 0
    assert [k["setting"] for k in result["crashes"]] == list(SETTINGS)
    for crash in result["crashes"]:
        assert crash["acknowledged"] >= 20  # killed once half of the 40 were acknowledged
        assert crash["stored"] + crash["lost"] == crash["acknowledged"]


def test_autosave_settings_are_mosquittos_lines(tmp_path: Path) -> None:
    assert autosave_lines("60s") == "autosave_interval 60\n"
    assert autosave_lines("changes:1") == "autosave_on_changes true\nautosave_interval 1\n"
    for bad in ("60", "0s", "changes:0", "changes:", "often"):
        with pytest.raises(argparse.ArgumentTypeError, match="not an autosave setting"):
            autosave_spec(bad)
    conf = tmp_path / "mosquitto.conf"
    for spec in ("60s", "changes:1", "changes:100"):
        conf.write_text(f"persistence true\n{autosave_lines(spec)}log_dest stdout\n")
        assert shipped_autosave(conf) == spec
    assert shipped_autosave() == "changes:1"  # deploy/mosquitto/mosquitto.conf
