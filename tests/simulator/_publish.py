"""Publishing a simulation to the test broker under the test's own topic root."""

from __future__ import annotations

from typing import Any

from simulator import PublishReport, Simulation, publish
from tests.fix_mqtt import Broker


def publish_to(broker: Broker, sim: Simulation, topic_root: str, **options: Any) -> PublishReport:
    """``publish`` all of ``sim`` with client ids prefixed by the topic root; ``options`` as there."""
    return publish(
        sim.messages(),
        mqtt_url=broker.mqtt,
        devices=sim.devices,
        topic_root=topic_root,
        client_prefix=topic_root,
        **options,
    )
