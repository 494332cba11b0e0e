"""End to end: simulated devices -> Mosquitto -> ``citypulse ingest`` -> PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citypulse.db import connect, scalar, upsert_devices
from simulator import Simulation, faults_from_spec, generated_city
from tests.fix_mqtt import Broker
from tests.simulator._publish import publish_to

CITY = generated_city(1, seed=5)
TABLES = {
    "traffic_light": "traffic_light_readings",
    "camera": "camera_readings",
    "parking": "parking_readings",
    "ecology": "ecology_readings",
}


def _wait_until_ingest_listens(
    broker: Broker, root: str, db_url: str, proc: subprocess.Popen[bytes]
) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(broker.mqtt.host, broker.mqtt.port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, "ingest exited"
            body = json.dumps({"time": datetime.now(UTC).isoformat(), "pm25": 1.0})
            client.publish(f"{root}/probe/ecology/probe-1/telemetry", body, qos=1).wait_for_publish(
                5
            )
            with connect(db_url) as conn:
                if scalar(
                    conn, "SELECT count(*) FROM ecology_readings WHERE device_id = 'probe-1'"
                ):
                    return
            time.sleep(0.5)
        pytest.fail("ingest did not store the probe reading")
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.slow
def test_simulated_readings_land_in_the_database(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    env = {
        **os.environ,
        "CITYPULSE_DATABASE_URL": db_url,
        "CITYPULSE_MQTT_URL": mqtt_broker.url,
        "CITYPULSE_LOG_LEVEL": "WARNING",
    }
    cmd = [
        sys.executable,
        "-m",
        "citypulse.cli",
        "ingest",
        "--topic-root",
        topic_root,
        "--client-id",
        f"{topic_root}-ingest",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_ingest_listens(mqtt_broker, topic_root, db_url, proc)
        end = datetime.now(UTC).replace(microsecond=0)
        start = end - timedelta(minutes=40)
        faults = faults_from_spec(
            {
                "faults": [
                    {
                        "type": "malformed_payload",
                        "device": "cam-r000c000-n",
                        "at": "10m",
                        "duration": "5m",
                    }
                ]
            },
            CITY,
            start=start,
            end=end,
        )
        sim = Simulation(CITY, start=start, end=end, seed=2, faults=faults, topic_root=topic_root)
        with connect(db_url) as conn:
            upsert_devices(conn, sim.devices)
            conn.commit()
        expected: Counter[str] = Counter()
        corrupted = 0
        for m in sim.messages():
            if not m.topic.endswith("/telemetry"):
                continue
            if not m.valid:
                corrupted += 1
                continue
            body = json.loads(m.payload)
            expected[m.topic.split("/")[2]] += len(body) if isinstance(body, list) else 1
        report = publish_to(mqtt_broker, sim, topic_root, mode="device")
        assert report.messages > 0
        stored: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with connect(db_url) as conn:
                stored = {
                    kind: int(
                        scalar(conn, f"SELECT count(*) FROM {table} WHERE device_id <> 'probe-1'")
                    )
                    for kind, table in TABLES.items()
                }
                dead = int(scalar(conn, "SELECT count(*) FROM dead_letters"))
            if stored == dict(expected) and dead >= corrupted:
                break
            time.sleep(0.5)
        assert stored == dict(expected)
        assert dead >= corrupted > 0
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]


@pytest.mark.slow
def test_a_gateway_replaying_a_power_loss_leaves_the_device_offline_then_back_when_it_was(
    db_url: str, mqtt_broker: Broker, topic_root: str
) -> None:
    """Published as fast as the broker takes it, the past's offline status carries the time
    the device went dark: stamped on receipt instead, it came after the device's return
    and left the device offline (as the demo, which replays the last hours, showed)."""
    from ingest import IngestConfig, IngestWorker

    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(minutes=40)
    spec = {
        "faults": [{"type": "power_loss", "device": "tl-r000c000", "at": "10m", "duration": "10m"}]
    }
    faults = faults_from_spec(spec, CITY, start=start, end=end)
    sim = Simulation(CITY, start=start, end=end, seed=2, faults=faults, topic_root=topic_root)
    statuses = [m for m in sim.messages() if m.device_id == "tl-r000c000" and m.retain]
    went_dark = [m.t for m in statuses if m.last_will]
    assert went_dark == [(start + timedelta(minutes=10)).timestamp()]
    with connect(db_url) as conn:
        upsert_devices(conn, sim.devices)
        conn.commit()
    config = IngestConfig(
        database_url=db_url,
        mqtt=mqtt_broker.mqtt,
        client_id=f"{topic_root}-ingest",
        worker_id=f"{topic_root}-ingest",
        topic_root=topic_root,
    )
    with IngestWorker(config) as worker:
        assert worker.wait_connected(30)
        report = publish_to(mqtt_broker, sim, topic_root, mode="gateway")
        assert worker.wait_total("received", report.messages, 60)
    with connect(db_url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM time)::float8, online FROM device_status "
            "WHERE device_id = 'tl-r000c000' ORDER BY time"
        ).fetchall()
        online = scalar(conn, "SELECT online FROM devices WHERE id = 'tl-r000c000'")
    offline = [t for t, up in rows if not up]
    assert offline == pytest.approx(went_dark, abs=1e-3)
    assert rows[-1][1] is True
    assert rows[-1][0] > went_dark[0]
    assert online is True
