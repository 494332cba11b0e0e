"""Devices' online state live from the broker's retained status topics (a real Mosquitto):
the console shows it on an appeal's page, and shows the stored state, or "unknown", when
the broker is unreachable."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citypulse import MqttUrl
from console import DeviceStatus, Presence, parse_status
from tests._procs import free_port
from tests.console._data import STATION, air_appeal
from tests.fix_console import LiveConsole
from tests.fix_mqtt import Broker


def _publish_retained(broker: Broker, topic: str, payload: str) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="")
    client.connect(broker.mqtt.host, broker.mqtt.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def running(mqtt_broker: Broker, topic_root: str) -> Iterator[Presence]:
    """The subscriber on an event loop of a thread here (the server's, in the console)."""
    presence = Presence(mqtt=mqtt_broker.mqtt, client_id="", topic_root=topic_root)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        async with presence.running():
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        yield presence
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
    assert not thread.is_alive()
    loop.close()
    assert not presence.connected.is_set()


def test_status_payloads_parse_at_the_edge() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    ok = parse_status(b'{"online": true, "time": "2026-11-23T05:20:00Z"}', now)
    assert ok == DeviceStatus(online=True, since=datetime(2026, 11, 23, 5, 20, tzinfo=UTC))
    will = parse_status(b'{"online": false, "reason": "last_will"}', now)
    assert will == DeviceStatus(online=False, since=now)
    for bad in (b"", b"nope", b"[]", b'{"online": "yes"}', b'{"online": true, "time": "x"}',
                b'{"online": true, "time": "2026-11-23T05:20:00"}', b"\xff"):  # fmt: skip
        assert parse_status(bad, now) is None, bad


def test_retained_statuses_and_wills_reach_the_map(
    mqtt_broker: Broker, topic_root: str, running: Presence
) -> None:
    before = f"{topic_root}/leninsky/ecology/{STATION}/status"
    _publish_retained(mqtt_broker, before, '{"online": true, "time": "2026-11-23T05:20:00Z"}')
    assert running.connected.wait(10)
    _wait(lambda: running.get(STATION) is not None)  # retained: replayed at subscription
    assert running.get(STATION) == DeviceStatus(
        online=True, since=datetime(2026, 11, 23, 5, 20, tzinfo=UTC)
    )
    _publish_retained(mqtt_broker, before, '{"online": false, "reason": "last_will"}')
    _wait(lambda: (s := running.get(STATION)) is not None and not s.online)
    _publish_retained(mqtt_broker, f"{topic_root}/x/y/cam-1/status", "garbage")
    time.sleep(0.3)
    assert running.get("cam-1") is None
    assert set(running.snapshot()) == {STATION}


class TestAppealPage:
    @pytest.fixture
    def console_presence(self, mqtt_broker: Broker, topic_root: str) -> Presence:
        _publish_retained(
            mqtt_broker,
            f"{topic_root}/leninsky/ecology/{STATION}/status",
            '{"online": false, "time": "2026-11-23T05:20:00Z"}',
        )
        return Presence(mqtt=mqtt_broker.mqtt, client_id="", topic_root=topic_root)

    def test_runs_as_a_task_of_the_servers_loop(
        self, live_console: LiveConsole, console_presence: Presence
    ) -> None:
        assert console_presence.connected.wait(10)
        task = live_console.app.state.presence_task
        assert isinstance(task, asyncio.Task)
        assert task.get_name() == "console-presence"
        assert not task.done()
        # The loop the task belongs to is the one uvicorn serves on (serve_in_thread's
        # thread, api-<port>); no thread of its own reads the broker.
        on = concurrent.futures.Future[str]()
        task.get_loop().call_soon_threadsafe(lambda: on.set_result(threading.current_thread().name))
        assert on.result(5) == f"api-{live_console.url.rsplit(':', 1)[1]}"
        assert "console-presence" not in {t.name for t in threading.enumerate()}

    def test_shows_the_brokers_state(
        self, live_console: LiveConsole, console_presence: Presence
    ) -> None:
        appeal_id = air_appeal(live_console.db_url)
        assert console_presence.connected.wait(10)
        _wait(lambda: console_presence.get(STATION) is not None)
        with live_console.signed_in() as c:
            page = c.get(f"/console/appeals/{appeal_id}").text
        assert 'data-source="broker"' in page
        assert "не на связи" in page
        assert "по статусу в брокере" in page
        assert "23.11" in page  # since when, in the region's zone
        with live_console.signed_in() as c:
            queue = c.get("/console/").text
        row = queue[queue.index(f'data-id="{appeal_id}"') :].split("</tr>")[0]
        assert 'class="device-state offline"' in row
        assert "● не на связи" in row


class TestUnreachableBroker:
    @pytest.fixture
    def console_presence(self) -> Presence:
        nowhere = MqttUrl.parse(f"mqtt://127.0.0.1:{free_port()}")
        return Presence(mqtt=nowhere, client_id="", retry_min_s=0.1, retry_max_s=0.2)

    def test_the_console_works_and_says_unknown(
        self, live_console: LiveConsole, console_presence: Presence
    ) -> None:
        appeal_id = air_appeal(live_console.db_url)
        with live_console.signed_in() as c:
            r = c.get(f"/console/appeals/{appeal_id}")
        assert r.status_code == 200
        assert not console_presence.connected.is_set()
        assert 'data-source="database"' in r.text
        assert "состояние неизвестно" in r.text
