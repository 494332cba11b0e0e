"""Leaving the share group on stop: only for a live member of the same shared subscription.

A worker that stops while another member is alive unsubscribes, drains and ends its
session; otherwise it keeps its session for its return.  A worker that stopped (keeping
its session), or one of another topic root under the same group name (Mosquitto keys a
shared subscription by name and filter), receives none of this worker's messages: were it
taken for a live peer, the messages published while this worker restarts would be lost.
"""

from __future__ import annotations

from citypulse.db import connect
from ingest import IngestConfig, IngestWorker
from tests._mqtt import publish_all, wait_for
from tests.fix_mqtt import Broker
from tests.ingest.test_worker import camera_message, config, running

N = 300


def _config(db_url: str, broker: Broker, root: str, client_id: str) -> IngestConfig:
    # the default heartbeat interval: a stopped peer's last beat is seconds old
    return config(
        db_url, broker, root, client_id=client_id, share_group="shared", takeover_after=600
    )


def _rows(db_url: str) -> set[str]:
    with connect(db_url) as conn:
        return {r[0] for r in conn.execute("SELECT client_id FROM ingest_sessions")}


def _start_and_stop(cfg: IngestConfig) -> None:
    with running(cfg):
        pass


def test_a_restart_keeps_the_messages_beside_a_stopped_worker_of_another_topic_root(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    other = _config(db_url, mqtt_broker, f"{topic_root}x", f"other-{topic_root}")
    mine = _config(db_url, mqtt_broker, topic_root, f"mine-{topic_root}")
    _start_and_stop(other)  # its heartbeat is fresh, its group name the same
    _start_and_stop(mine)  # the bench's restart: subscribe, stop, publish, start again
    publish_all(mqtt_broker.mqtt, [camera_message(topic_root, "cam-1", i) for i in range(N)])
    with running(mine) as worker:
        got = worker.wait_total("received", N, 30)
        totals = worker.counters.totals()
    assert got, f"messages published while the worker was away were lost: {totals}"
    assert _rows(db_url) == {other.client_id, mine.client_id}  # both sessions kept


def test_a_worker_stopping_beside_a_stopped_member_keeps_its_share(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    first = _config(db_url, mqtt_broker, topic_root, f"first-{topic_root}")
    second = _config(db_url, mqtt_broker, topic_root, f"second-{topic_root}")
    _start_and_stop(first)  # the last member: keeps its session, stops beating
    _start_and_stop(second)  # first is not alive: second must not leave the group
    assert _rows(db_url) == {first.client_id, second.client_id}
    publish_all(mqtt_broker.mqtt, [camera_message(topic_root, "cam-1", i) for i in range(N)])
    with running(first) as a, running(second) as b:
        wait_for(lambda: _received(a) + _received(b) >= N, 30, f"{N} messages")
        shares = _received(a), _received(b)
    assert min(shares) > 0, shares  # round-robin: each session was dealt a share meanwhile


def _received(worker: IngestWorker) -> int:
    return worker.counters.totals()["received"]
