"""Devices' online state, live from the broker's retained status topics.

A :class:`Presence` runs on the event loop of the server that serves the console: the
console's ASGI lifespan starts it as one named asyncio task (:meth:`Presence.running`)
and cancels it at shutdown.  The task (aiomqtt) subscribes to ``{root}/+/+/+/status``
with a read-only login and keeps device -> :class:`DeviceStatus` in memory.  The broker
replays every retained status at subscription, so the map is whole as soon as it
connects; a device's last will arrives on the same topic.  When the
broker is unreachable it retries with a jittered, capped backoff and the console shows
what it last knew (or "unknown").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt

from citypulse import MqttUrl

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """What a device last said on its status topic, and since when."""

    online: bool
    since: datetime


def parse_status(payload: bytes, received: datetime) -> DeviceStatus | None:
    """A status message (``{"online": bool, "time": ISO 8601}``, a last will has no
    time: it counts from when it arrived); None for anything else."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("online"), bool):
        return None
    since = received
    if isinstance(body.get("time"), str):
        try:
            since = datetime.fromisoformat(body["time"])
        except ValueError:
            return None
        if since.tzinfo is None:
            return None
    return DeviceStatus(online=body["online"], since=since.astimezone(UTC))


class Presence:
    """device id -> :class:`DeviceStatus`, fed by the broker."""

    name = "console-presence"

    def __init__(
        self,
        *,
        mqtt: MqttUrl,
        client_id: str,
        topic_root: str = "city",
        ca_file: str | None = None,
        retry_min_s: float = 1.0,
        retry_max_s: float = 60.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.mqtt = mqtt
        self.client_id = client_id
        self.topic_root = topic_root
        self.ca_file = ca_file
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.timeout_s = timeout_s
        self._states: dict[str, DeviceStatus] = {}
        self.connected = threading.Event()

    def get(self, device_id: str) -> DeviceStatus | None:
        return self._states.get(device_id)

    def snapshot(self) -> dict[str, DeviceStatus]:
        return dict(self._states)

    # --- the service ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.Task[None]]:
        """Subscribe in a task of the running event loop while inside; cancel it (and wait
        for it to end) on the way out."""
        task = asyncio.get_running_loop().create_task(self._subscribe_forever(), name=self.name)
        task.add_done_callback(_report_crash)
        try:
            yield task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.connected.clear()

    async def _subscribe_forever(self) -> None:
        delay = self.retry_min_s
        while True:
            try:
                await self._subscribe()
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                wait = random.uniform(self.retry_min_s, delay)
                log.warning(
                    "console: broker %s unavailable (%s); devices' state kept as last known, "
                    "retrying in %.1f s",
                    self.mqtt.url(),
                    exc,
                    wait,
                )
                await asyncio.sleep(wait)
                delay = min(self.retry_max_s, delay * 2)
            else:
                delay = self.retry_min_s

    async def _subscribe(self) -> None:
        tls = ssl.create_default_context(cafile=self.ca_file) if self.mqtt.tls else None
        async with aiomqtt.Client(
            self.mqtt.host,
            self.mqtt.port,
            username=self.mqtt.username,
            password=self.mqtt.password.value or None,
            identifier=self.client_id,
            tls_context=tls,
            timeout=self.timeout_s,
            clean_session=True,
        ) as client:
            await client.subscribe(f"{self.topic_root}/+/+/+/status", qos=1)
            self.connected.set()
            log.info("console: reading devices' status from %s", self.mqtt.url())
            async for message in client.messages:
                device = str(message.topic).split("/")[3]
                payload = message.payload if isinstance(message.payload, bytes) else b""
                status = parse_status(payload, datetime.now(UTC))
                if status is None:
                    log.info("console: ignored a malformed status of device %s", device)
                    continue
                self._states[device] = status


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("console: devices' status reader stopped", exc_info=exc)
