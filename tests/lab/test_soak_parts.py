"""The soak's parts without servers: what the publishers' tap keeps, /proc figures, verdicts."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator
from typing import Any

import pytest

from citypulse.cli import main
from lab._soak import _holds
from lab._soak_procs import Watched, cpu_s, tree
from lab._soak_tap import SentTap
from simulator import Message


def _messages() -> Iterator[Message]:
    yield Message(100.0, "city/d/traffic_light/tl-1/telemetry", b'{"time": 100000}', False, "tl-1")
    batch = b'[{"time": 95000, "lane_id": 1}, {"time": 97000, "lane_id": 2}]'
    yield Message(101.0, "city/d/camera/cam-1/telemetry", batch, False, "cam-1", reports=2)
    yield Message(102.0, "city/d/camera/cam-1/status", b'{"online":true}', True, "cam-1")
    yield Message(103.0, "city/d/camera/cam-1/telemetry", b"{not json", False, "cam-1", valid=False)


def test_tap_keeps_every_reading_key_and_passes_messages_unchanged() -> None:
    tap = SentTap(watch=frozenset({"cam-1"}))
    seen = list(tap.wrap(_messages()))
    assert [m.t for m in seen] == [100.0, 101.0, 102.0, 103.0]
    assert {k: list(v) for k, v in tap.series.items()} == {
        ("traffic_light", "tl-1", 0): [100000],
        ("camera", "cam-1", 1): [95000],
        ("camera", "cam-1", 2): [97000],
    }
    assert tap.readings == 3
    assert tap.messages == 4
    # the watched device's messages with their newest data: the batch, status, a bad one
    got = [(t, status) for t, _, status in tap.watched["cam-1"]]
    assert got == [(97.0, False), (102.0, True), (103.0, False)]


def test_tap_survives_the_trip_to_a_worker_and_back_and_merges() -> None:
    one, other = SentTap(), pickle.loads(pickle.dumps(SentTap()))
    list(one.wrap(_messages()))
    list(other.wrap(_messages()))
    one.merge(pickle.loads(pickle.dumps(other)))
    assert list(one.series[("camera", "cam-1", 1)]) == [95000, 95000]
    assert one.messages == 8


def test_sent_at_takes_the_message_that_carried_the_data() -> None:
    tap = SentTap(watch=frozenset({"cam-1"}))
    tap.watched = {"cam-1": [(97.0, 50.0, False), (102.0, 52.0, True)]}
    tap.clock = [(100.0, 49.0), (101.0, 50.0), (103.0, 53.0)]
    assert tap.sent_at(96.0, "cam-1") == 50.0  # inside the batch sent at wall 50
    assert tap.sent_at(102.5, "tl-9") == 53.0  # a silent device: the next message of any
    assert tap.sent_at(51.9 + 1000, "cam-1") == 52.0  # stamped on receipt: its last status
    assert tap.sent_at(200.0, "tl-9") is None


def test_tap_stops_a_worker_that_fell_past_its_deadline() -> None:
    tap = SentTap(stop_at=1.0)  # long past
    assert list(tap.wrap(_messages())) == []
    assert tap.cut


def test_tap_budget_counts_from_its_first_message() -> None:
    tap = SentTap(budget_s=60.0, stop_at=1.0)  # the budget replaces a stale deadline
    assert len(list(tap.wrap(_messages()))) == len(list(_messages()))
    assert not tap.cut
    assert time.time() < tap.stop_at <= time.time() + 60.0


def test_cpu_of_a_process_tree_counts_this_process() -> None:
    pid = os.getpid()
    assert pid in tree(pid)
    sum(i * i for i in range(300_000))
    assert cpu_s(pid) > 0.0
    w = Watched("me", pid)
    w.begin()
    w.end()
    assert w.rss_start > 0
    assert w.rss_warm == w.rss_end  # no warm-up sample: the end stands for it


def _result(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "lost": 0,
        "duplicates": 0,
        "crashed": [],
        "appeals_delivered_twice": 0,
        "bad_signatures": 0,
        "secrets_in_logs": [],
        "drained": True,
        "publish_to_incident_s": {"p99": 1.2},
        "rollup_lag_s": {"max": 12.0},
        "publisher": {"shortfall_pct": 0.0},
    }
    return base | changes


def test_a_rate_is_held_only_if_nothing_is_lost_and_latencies_stay_in_bounds() -> None:
    assert _holds(_result()) == []
    assert _holds(_result(lost=1))
    assert _holds(_result(publish_to_incident_s={"p99": 5.1}))
    assert _holds(_result(rollup_lag_s={"max": 61.0}))
    assert _holds(_result(rollup_lag_s={"max": None}))
    assert _holds(_result(publisher={"shortfall_pct": 20.0}))


def test_city_and_intersections_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "soak", "--city", "large", "--intersections", "4"])
    assert code == 2
    err = capsys.readouterr().err
    assert "exclude each other" in err
    assert "Traceback" not in err
