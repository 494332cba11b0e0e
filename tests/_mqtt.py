"""Test helpers around a real broker: a bounded QoS 1 publisher and polling waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from citypulse import MqttUrl


class Publisher:
    """A QoS 1 publisher that keeps at most ``max_inflight`` messages unacknowledged.

    Counts what the broker acknowledged (PUBACK), which is what must end up stored.
    """

    def __init__(self, url: MqttUrl, *, client_id: str = "", max_inflight: int = 1000) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if url.username:
            self.client.username_pw_set(url.username, url.password.value or None)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self._slots = threading.BoundedSemaphore(max_inflight)
        self.acked = 0  # PUBACKs received
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.client.connect(url.host, url.port, keepalive=30)
        self.client.loop_start()

    def _on_publish(
        self, client: mqtt.Client, userdata: object, mid: int, reason: object, properties: object
    ) -> None:
        with self._lock:
            self.acked += 1
        self._slots.release()

    def publish(
        self,
        messages: Iterable[tuple[str, bytes]],
        *,
        retain: bool = False,
        rate: float | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Publish in order (at ``rate`` msg/s if given); returns how many were sent."""
        sent = 0
        start = time.monotonic()
        for i, (topic, payload) in enumerate(messages):
            if stop is not None and stop.is_set():
                break
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self._slots.acquire()
            self.client.publish(topic, payload, qos=1, retain=retain)
            sent += 1
        return sent

    def wait_acked(self, count: int, timeout: float = 60.0) -> None:
        wait_for(lambda: self.acked >= count, timeout, f"{count} PUBACKs")

    def close(self) -> None:
        self.client.disconnect()
        if self.client._thread is not None:
            self.client.loop_stop()


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def publish_all(url: MqttUrl, messages: Sequence[tuple[str, bytes]], timeout: float = 60) -> None:
    pub = Publisher(url)
    try:
        pub.publish(messages)
        pub.wait_acked(len(messages), timeout)
    finally:
        pub.close()
