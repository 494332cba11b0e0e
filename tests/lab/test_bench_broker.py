"""`citypulse bench broker-crash` runs both autosave settings and prints its figures.  Not
a timed test: it asserts the figures exist and add up, never what they are
(tests/deploy/test_mosquitto.py asserts that the durable setting keeps what it acked)."""

from __future__ import annotations

import argparse
import json

import pytest

from citypulse import Settings
from lab._bench_broker import SETTINGS, run


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
