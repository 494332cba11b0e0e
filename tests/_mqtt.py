"""Test helpers around a real broker: a bounded QoS 1 publisher and polling waits."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from citypulse import MqttUrl
from lab._publish import BoundedPublisher

Publisher = BoundedPublisher


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def publish_all(url: MqttUrl, messages: Sequence[tuple[str, bytes]], timeout: float = 60) -> int:
    """Publish with QoS 1; returns how many the broker acknowledged (all, or it raises)."""
    pub = Publisher(url)
    try:
        pub.publish(messages)
        pub.wait_acked(len(messages), timeout)
        return pub.acked
    finally:
        pub.close()


def print_counts(what: str, published: int, acknowledged: int, stored: int) -> None:
    """The counts a fault test proves, printed so that a run's output shows them."""
    print(
        f"{what}: {published} published, {acknowledged} acknowledged by the broker, {stored} stored"
    )
