"""The ingest worker against a real Mosquitto and a real PostgreSQL."""

from __future__ import annotations

import gc
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from citypulse import Device, DeviceKind
from citypulse.db import connect, scalar, upsert_devices
from ingest import IngestConfig, IngestWorker
from ingest._worker import GC_THRESHOLDS
from tests._mqtt import Publisher, print_counts, publish_all, wait_for
from tests.fix_mqtt import Broker

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
_ids = itertools.count()


def config(db_url: str, broker: Broker, root: str, **kw: object) -> IngestConfig:
    options: dict[str, object] = {
        "database_url": db_url,
        "mqtt": broker.mqtt,
        "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
        "worker_id": f"w{next(_ids)}",
        "topic_root": root,
        "share_group": f"g{root}",
        "batch_size": 500,
        "batch_age": 0.05,
        "stats_interval": 0.5,
        "maintain_interval": 1.0,
        "receive_maximum": 2000,
        "max_pending": 4000,
        "retry_cap": 1.0,
    }
    options.update(kw)
    return IngestConfig(**options)  # type: ignore[arg-type]


@contextmanager
def running(cfg: IngestConfig) -> Iterator[IngestWorker]:
    with IngestWorker(cfg) as worker:
        assert worker.wait_connected(15), "worker did not connect and subscribe"
        yield worker


def camera_message(root: str, device: str, i: int, lane: int = 1) -> tuple[str, bytes]:
    t = BASE + timedelta(seconds=i)
    return (
        f"{root}/centr/camera/{device}/telemetry",
        orjson.dumps(
            {
                "time": t.isoformat(),
                "lane_id": lane,
                "intensity": i % 97,
                "occupancy": (i % 10) / 10,
            }
        ),
    )


def stored_camera(db_url: str) -> Counter[tuple[str, datetime, int]]:
    with connect(db_url) as conn:
        return Counter(
            (r[0], r[1], r[2])
            for r in conn.execute("SELECT device_id, time, intensity FROM camera_readings")
        )


def count(db_url: str, table: str) -> int:
    with connect(db_url) as conn:
        return int(scalar(conn, f"SELECT count(*) FROM {table}"))


def test_mixed_valid_and_invalid_messages(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    root = topic_root
    good = [camera_message(root, f"cam-{i % 4}", i) for i in range(200)]
    eco = f"{root}/centr/ecology/eco-1/telemetry"
    batch = orjson.dumps(
        [
            {"time": BASE.isoformat(), "pm25": 12.0},
            {"time": BASE.isoformat(), "pm25": -5},
            {"time": (BASE + timedelta(minutes=20)).isoformat(), "no2": 40.0},
        ]
    )
    bad = [
        (eco, b"{not json"),
        (eco, b'{"pm25": "a lot"}'),
        (eco, b'{"pm25": 1, "time": "2099-01-01T00:00:00Z"}'),
        (eco, b'{"pm25": 1e999}'),
        (f"{root}/centr/submarine/s1/telemetry", b'{"depth": 3}'),
        (eco, b'{"pm25": 3, "x": "' + b"a" * 300_000 + b'"}'),
    ]
    duplicate = good[5]
    with running(config(db_url, mqtt_broker, root)):
        publish_all(mqtt_broker.mqtt, [*good, (eco, batch), *bad, duplicate])
        wait_for(
            lambda: (
                count(db_url, "camera_readings") == 200
                and count(db_url, "ecology_readings") == 2
                and count(db_url, "dead_letters") == 7
            ),
            30,
            "all stored",
        )
    expected = Counter((f"cam-{i % 4}", BASE + timedelta(seconds=i), i % 97) for i in range(200))
    assert stored_camera(db_url) == expected
    with connect(db_url) as conn:
        letters = conn.execute("SELECT reason, detail, payload, topic FROM dead_letters").fetchall()
        devices = {r[0]: r[1] for r in conn.execute("SELECT id, kind FROM devices")}
    assert Counter(r[0] for r in letters) == Counter(
        [
            "out_of_range",
            "invalid_json",
            "wrong_type",
            "time_in_future",
            "invalid_json",
            "unknown_kind",
            "payload_too_large",
        ]
    )
    by_reason = {r[0]: r for r in letters}
    assert bytes(by_reason["out_of_range"][2]) == batch  # the raw bytes are kept
    assert "reading 1: pm25=-5" in by_reason["out_of_range"][1]
    assert by_reason["unknown_kind"][3].endswith("/submarine/s1/telemetry")
    assert devices == {
        "cam-0": "camera",
        "cam-1": "camera",
        "cam-2": "camera",
        "cam-3": "camera",
        "eco-1": "ecology",
    }


def register(db_url: str, *devices: Device) -> None:
    with connect(db_url) as conn:
        upsert_devices(conn, devices)
        conn.commit()


def test_unknown_devices_rejected_by_policy(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    register(
        db_url,
        Device("cam-0", DeviceKind.CAMERA, district="centr"),
        Device("cam-1", DeviceKind.ECOLOGY, district="centr"),
    )
    messages = [camera_message(topic_root, d, i) for i, d in enumerate(["cam-0", "cam-1", "cam-9"])]
    with running(config(db_url, mqtt_broker, topic_root, unknown_devices="reject")):
        publish_all(mqtt_broker.mqtt, messages)
        wait_for(lambda: count(db_url, "dead_letters") == 2, 30, "dead letters")
    assert count(db_url, "camera_readings") == 1
    with connect(db_url) as conn:
        reasons = sorted(r[0] for r in conn.execute("SELECT reason FROM dead_letters"))
        registered = scalar(conn, "SELECT count(*) FROM devices")
    assert reasons == ["kind_mismatch", "unknown_device"]
    assert registered == 2


def test_a_device_publishing_under_another_district_is_dead_lettered(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    """The ACL leaves district and kind to ingest: both are checked against the registry."""
    home = Device("cam-0", DeviceKind.CAMERA, district="centr")
    register(db_url, home, Device("cam-9", DeviceKind.CAMERA))  # cam-9: no district registered
    own = camera_message(topic_root, "cam-0", 1)
    anywhere = camera_message(topic_root, "cam-9", 5)
    elsewhere = [
        (topic.replace("/centr/", "/zarechny/"), payload)
        for topic, payload in (camera_message(topic_root, d, i) for i, d in ((2, "cam-0"),
                                                                          (3, "cam-5")))
    ]  # fmt: skip
    status = (f"{topic_root}/zarechny/camera/cam-0/status", b'{"online": false}')
    with running(config(db_url, mqtt_broker, topic_root)):
        publish_all(mqtt_broker.mqtt, [own, anywhere, *elsewhere, status])
        wait_for(lambda: count(db_url, "dead_letters") == 2, 30, "dead letters")
        # cam-5 was registered in zarechny by its first message; centr is not its district
        publish_all(mqtt_broker.mqtt, [camera_message(topic_root, "cam-5", 4)])
        wait_for(lambda: count(db_url, "dead_letters") == 3, 30, "dead letters")
    with connect(db_url) as conn:
        letters = conn.execute(
            "SELECT reason, device_id, detail FROM dead_letters ORDER BY id"
        ).fetchall()
        stored = conn.execute("SELECT device_id FROM camera_readings ORDER BY time").fetchall()
        statuses = scalar(conn, "SELECT count(*) FROM device_status")
    assert [(r[0], r[1]) for r in letters] == [
        ("district_mismatch", "cam-0"),
        ("district_mismatch", "cam-0"),
        ("district_mismatch", "cam-5"),
    ]
    assert "registered in centr, not zarechny" in letters[0][2]
    assert stored == [("cam-0",), ("cam-5",), ("cam-9",)]
    assert statuses == 0


def test_status_and_last_seen_never_move_backwards(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    root = topic_root
    late, early = camera_message(root, "cam-7", 100), camera_message(root, "cam-7", 10)
    status = f"{root}/centr/camera/cam-7/status"
    t_on = (BASE + timedelta(seconds=50)).isoformat()
    t_off = (BASE + timedelta(seconds=200)).isoformat()
    with running(config(db_url, mqtt_broker, root)):
        publish_all(
            mqtt_broker.mqtt,
            [late, (status, orjson.dumps({"online": False, "time": t_off, "reason": "last_will"}))],
        )
        wait_for(lambda: count(db_url, "device_status") == 1, 30, "status")
        publish_all(
            mqtt_broker.mqtt, [early, (status, orjson.dumps({"online": True, "time": t_on}))]
        )
        wait_for(
            lambda: count(db_url, "device_status") == 2 and count(db_url, "camera_readings") == 2,
            30,
            "late data",
        )
    with connect(db_url) as conn:
        online, last_seen, changed = conn.execute(
            "SELECT online, last_seen, status_changed_at FROM devices WHERE id = 'cam-7'"
        ).fetchone()  # type: ignore[misc]
    assert online is False  # the older "online" status arrived late and did not win
    assert changed == BASE + timedelta(seconds=200)
    # the will says when the camera stopped, not that it was heard: last_seen is its
    # newest reading, and the late, older reading and "online" did not move it back
    assert last_seen == BASE + timedelta(seconds=100)


def test_a_will_stamped_on_receipt_leaves_last_seen_at_the_last_reading(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    # A replay of the past: readings carry their own (old) times, the broker's will has
    # none and is stamped now.  last_seen must stay in the replay's time, or detect's
    # data clock jumps to the present and every other device looks silent.
    root = topic_root
    status = f"{root}/centr/camera/cam-8/status"
    with running(config(db_url, mqtt_broker, root)):
        publish_all(
            mqtt_broker.mqtt,
            [camera_message(root, "cam-8", 30), (status, b'{"online":false,"reason":"last_will"}')],
        )
        wait_for(lambda: count(db_url, "device_status") == 1, 30, "status")
        wait_for(lambda: count(db_url, "camera_readings") == 1, 30, "reading")
    with connect(db_url) as conn:
        online, last_seen, changed = conn.execute(
            "SELECT online, last_seen, status_changed_at FROM devices WHERE id = 'cam-8'"
        ).fetchone()  # type: ignore[misc]
    assert online is False
    assert last_seen == BASE + timedelta(seconds=30)
    assert changed > BASE + timedelta(hours=2)  # stamped on receipt, three hours later


def test_two_workers_split_a_shared_subscription(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    messages = [camera_message(topic_root, f"cam-{i % 20}", i) for i in range(3000)]
    with (
        running(config(db_url, mqtt_broker, topic_root)) as a,
        running(config(db_url, mqtt_broker, topic_root)) as b,
    ):
        publish_all(mqtt_broker.mqtt, messages)
        wait_for(lambda: count(db_url, "camera_readings") == 3000, 60, "3000 rows")
        got_a, got_b = a.counters.totals()["received"], b.counters.totals()["received"]
    assert got_a > 0
    assert got_b > 0
    assert got_a + got_b == 3000  # each message went to exactly one worker
    expected = Counter((f"cam-{i % 20}", BASE + timedelta(seconds=i), i % 97) for i in range(3000))
    assert stored_camera(db_url) == expected


def test_workers_hold_the_collectors_thresholds_while_any_runs_then_put_them_back(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    saved = gc.get_threshold()
    gc.set_threshold(900, 11, 12)
    try:
        a = IngestWorker(config(db_url, mqtt_broker, topic_root)).__enter__()
        try:
            assert gc.get_threshold() == GC_THRESHOLDS
            with running(config(db_url, mqtt_broker, topic_root)):
                assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_threshold() == GC_THRESHOLDS  # the other one still runs
        finally:
            a.shutdown()
        assert gc.get_threshold() == (900, 11, 12)
        a.shutdown()  # a second shutdown changes nothing
        assert gc.get_threshold() == (900, 11, 12)
    finally:
        gc.set_threshold(*saved)


def test_redelivered_messages_are_stored_once(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    messages = [camera_message(topic_root, "cam-1", i) for i in range(300)]
    with running(config(db_url, mqtt_broker, topic_root)) as worker:
        publish_all(mqtt_broker.mqtt, messages + messages[:150])  # a gateway that resent
        wait_for(lambda: worker.counters.totals()["received"] == 450, 30, "450 received")
    assert count(db_url, "camera_readings") == 300
    with connect(db_url) as conn:
        dupes = scalar(conn, "SELECT sum(duplicates) FROM ingest_stats")
        received = scalar(conn, "SELECT sum(received) FROM ingest_stats")
    assert (dupes, received) == (150, 450)


@pytest.mark.faults
def test_database_restart_mid_stream_loses_nothing(
    db_url: str, mqtt_broker: Broker, topic_root: str, pg_server: object
) -> None:
    server = pg_server
    if not getattr(server, "owned", False):
        pytest.skip("needs a PostgreSQL the tests own (CITYPULSE_TEST_DATABASE_URL is set)")
    messages = [camera_message(topic_root, f"cam-{i % 5}", i) for i in range(4000)]
    with running(config(db_url, mqtt_broker, topic_root)) as worker:
        pub = Publisher(mqtt_broker.mqtt)
        try:
            pub.publish(messages[:1000])
            wait_for(lambda: worker.counters.totals()["stored"] > 0, 30, "first rows")
            server.stop()  # type: ignore[attr-defined]
            pub.publish(messages[1000:3000], rate=4000)
            server.start()  # type: ignore[attr-defined]
            pub.publish(messages[3000:])
            pub.wait_acked(4000, 60)
        finally:
            pub.close()
        wait_for(lambda: count(db_url, "camera_readings") == 4000, 90, "4000 rows after restart")
        assert worker.counters.store_retries > 0
    expected = Counter((f"cam-{i % 5}", BASE + timedelta(seconds=i), i % 97) for i in range(4000))
    stored = stored_camera(db_url)
    print_counts("PostgreSQL restarted mid-stream", 4000, pub.acked, sum(stored.values()))
    assert stored == expected


@pytest.mark.faults
def test_broker_restart_mid_stream_loses_nothing(
    db_url: str, private_broker: Broker, topic_root: str
) -> None:
    broker = private_broker
    messages = [camera_message(topic_root, f"cam-{i % 5}", i) for i in range(3000)]
    with running(config(db_url, broker, topic_root, client_id="restart-worker")) as worker:
        acked = publish_all(broker.mqtt, messages[:1000])
        wait_for(lambda: worker.counters.totals()["stored"] >= 1000, 30, "first 1000")
        broker.restart()
        assert worker.wait_connected(30), "worker did not resubscribe"
        acked += publish_all(broker.mqtt, messages[1000:])
        wait_for(lambda: count(db_url, "camera_readings") == 3000, 60, "3000 rows")
    expected = Counter((f"cam-{i % 5}", BASE + timedelta(seconds=i), i % 97) for i in range(3000))
    stored = stored_camera(db_url)
    print_counts("Mosquitto restarted mid-stream", 3000, acked, sum(stored.values()))
    assert stored == expected


def test_worker_messages_published_while_it_is_away_are_kept(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    """A persistent session: the broker queues for a stopped worker and it drains later."""
    cfg = config(db_url, mqtt_broker, topic_root, client_id=f"away-{topic_root}", share_group="")
    with running(cfg):
        pass
    publish_all(mqtt_broker.mqtt, [camera_message(topic_root, "cam-1", i) for i in range(500)])
    with running(cfg):
        wait_for(lambda: count(db_url, "camera_readings") == 500, 30, "backlog drained")


def test_wait_total_returns_when_the_count_is_committed_and_not_before(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    messages = [camera_message(topic_root, "cam-1", i) for i in range(200)]
    with running(config(db_url, mqtt_broker, topic_root)) as worker:
        assert not worker.wait_total("received", 1, 0.2)  # nothing published yet
        publish_all(mqtt_broker.mqtt, messages)
        assert worker.wait_total("received", 200, 30)
        assert worker.wait_total("stored", 200, 30)
        assert count(db_url, "camera_readings") == 200  # committed when counted
        assert not worker.wait_total("received", 201, 0.3)


def _progress(db_url: str, client_id: str) -> float | None:
    with connect(db_url) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM committed_through)::float8 FROM ingest_progress"
            " WHERE client_id = %s",
            (client_id,),
        ).fetchone()
    return None if row is None else float(row[0])


def test_committed_through_stays_below_a_batch_until_it_commits(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    """ingest_progress (sql/0027) tells ``citypulse detect`` how far back a late commit
    may reach: while a batch cannot commit (its table locked), the worker's
    committed_through stays at or below the batch's receipt time; once it commits it moves
    past, and the row goes when the worker stops."""
    root = topic_root
    cfg = config(db_url, mqtt_broker, root, progress_interval=0.05)
    with running(cfg):
        wait_for(lambda: _progress(db_url, cfg.client_id) is not None, 10, "a progress row")
        with connect(db_url) as blocker:
            blocker.execute("LOCK TABLE camera_readings IN ACCESS EXCLUSIVE MODE")
            publish_all(mqtt_broker.mqtt, [camera_message(root, "cam-lock", 1)])
            with connect(db_url, autocommit=True) as conn:
                wait_for(
                    lambda: (
                        scalar(
                            conn,
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND datname = current_database()"
                            " AND query LIKE '%%camera_readings%%'",
                        )
                        == 1
                    ),
                    10,
                    "the batch waiting on the lock",
                )
            waiting = time.time()
            time.sleep(0.5)  # several progress writes while it waits
            held = _progress(db_url, cfg.client_id)
            assert held is not None
            assert held <= waiting
            blocker.rollback()
        wait_for(lambda: count(db_url, "camera_readings") == 1, 10, "the batch committed")
        with connect(db_url) as conn:
            arrived = float(
                scalar(conn, "SELECT extract(epoch FROM received_at)::float8 FROM camera_readings")
            )
        assert held <= arrived
        wait_for(lambda: (_progress(db_url, cfg.client_id) or 0.0) > arrived, 10, "progress")
    assert _progress(db_url, cfg.client_id) is None
