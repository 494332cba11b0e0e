"""Publishing simulated messages over MQTT (paho-mqtt 2, MQTT 5, QoS 1).

All connections are driven from one thread by a selector (no paho network threads), so
a hundred device connections cost no more than one.  What is unacknowledged is bounded
(``max_inflight`` over all connections): a QoS 1 publisher that lets more than 65,535
messages pile up wraps its message ids and stalls.

Two modes.  ``device``: one connection per device, each with its retained last will on
its status topic; a power loss drops that device's connection without DISCONNECT, so the
broker itself fires the will.  ``gateway``: a few shared connections publish for every
device, and a power loss is published as the will-equivalent offline status, stamped
with the time the device went dark (:func:`simulator._message.gateway_will`).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from citypulse import Device, MqttUrl
from simulator._city import topic
from simulator._errors import PublishError
from simulator._message import WILL_PAYLOAD, Message, gateway_will
from simulator._wire import LeanPublisher

log = logging.getLogger(__name__)

Mode = Literal["device", "gateway"]


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for progress reporting."""

    messages: int
    sim_time: float  # epoch s of the last message published
    wall_s: float
    inflight: int

    @property
    def rate(self) -> float:
        return self.messages / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What a publishing run did."""

    messages: int  # publications sent by the simulator (acknowledged by the broker)
    bytes: int
    wills: int  # connections dropped uncleanly so that the broker fired a last will
    wall_s: float
    connections: int
    mode: Mode

    @property
    def rate(self) -> float:
        return self.messages / self.wall_s if self.wall_s > 0 else 0.0


class _BufferedSocket:
    """Coalesces paho's writes and reads: one syscall per burst instead of per packet.

    paho writes every packet with its own ``send`` and reads every PUBACK with three
    ``recv`` calls; at thousands of QoS 1 messages a second those syscalls dominate.
    paho drives any socket-like object (its websocket transport is such a wrapper), so
    this one buffers: ``send`` appends and :meth:`flush` writes; ``recv`` serves from
    one large read.  ``pending`` tells paho buffered bytes are still to be parsed.
    """

    __slots__ = ("rbuf", "sock", "wbuf")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.rbuf = bytearray()
        self.wbuf = bytearray()

    def send(self, data: bytes | bytearray) -> int:
        self.wbuf += data
        return len(data)

    def recv(self, size: int) -> bytes:
        if not self.rbuf:
            data = self.sock.recv(65536)  # BlockingIOError propagates to paho as "again"
            if not data:
                return b""
            self.rbuf += data
        out = bytes(self.rbuf[:size])
        del self.rbuf[:size]
        return out

    def pending(self) -> int:
        inner = self.sock.pending() if hasattr(self.sock, "pending") else 0
        return len(self.rbuf) + int(inner)

    def flush(self) -> bool:
        """Write what is buffered; False if the kernel would block with data left."""
        while self.wbuf:
            try:
                n = self.sock.send(self.wbuf)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            del self.wbuf[:n]
        return True

    def fileno(self) -> int:
        return int(self.sock.fileno())

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.flush()
        self.sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


class _Conn:
    """One paho client, connected and driven by the owning :class:`_Publisher`."""

    def __init__(self, client_id: str, client: mqtt.Client) -> None:
        self.client_id = client_id
        self.client = client
        self.connected = False
        self.inflight = 0
        self.error: str | None = None
        self.sock: Any = None
        self.buffered: _BufferedSocket | None = None


class _Publisher:
    def __init__(
        self,
        *,
        mqtt_url: MqttUrl,
        ca_file: str | None,
        max_inflight: int,
        connect_timeout: float,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
    ) -> None:
        self.url = mqtt_url
        self.protocol = protocol
        self.ca_file = ca_file
        self.max_inflight = max_inflight
        self.connect_timeout = connect_timeout
        self.selector = selectors.DefaultSelector()
        self.conns: list[_Conn] = []
        self.inflight = 0
        self.acked = 0
        self.last_misc = time.monotonic()

    # --- connections ---------------------------------------------------------------
    def open(
        self, client_id: str, *, username: str | None, will: tuple[str, bytes] | None
    ) -> _Conn:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=self.protocol
        )
        conn = _Conn(client_id, client)
        client.max_inflight_messages_set(self.max_inflight)
        if username:
            client.username_pw_set(username, self.url.password.value or None)
        if self.url.tls:
            client.tls_set(ca_certs=self.ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)

        def on_connect(
            c: mqtt.Client, u: object, flags: object, rc: ReasonCode, props: object
        ) -> None:
            if rc.is_failure:
                conn.error = f"connection refused: {rc}"
            else:
                conn.connected = True

        def on_publish(c: mqtt.Client, u: object, mid: int, rc: ReasonCode, props: object) -> None:
            conn.inflight -= 1
            self.inflight -= 1
            self.acked += 1
            if rc.is_failure:
                conn.error = f"publish {mid} refused: {rc}"

        def on_disconnect(
            c: mqtt.Client, u: object, flags: object, rc: ReasonCode, props: object
        ) -> None:
            if conn.connected:
                conn.connected = False
                conn.error = conn.error or f"disconnected by the broker: {rc}"

        client.on_connect = on_connect
        client.on_publish = on_publish
        client.on_disconnect = on_disconnect
        try:
            client.connect(self.url.host, self.url.port, keepalive=60)
        except OSError as exc:
            raise PublishError(client_id, f"cannot connect to {self.url.url()}: {exc}") from exc
        sock: Any = client.socket()
        conn.sock = sock
        if getattr(client, "_sock", None) is sock:
            conn.buffered = _BufferedSocket(sock)
            client._sock = conn.buffered
        self.selector.register(conn.sock, selectors.EVENT_READ, conn)
        self.conns.append(conn)
        return conn

    def wait_connected(self, conns: Sequence[_Conn]) -> None:
        deadline = time.monotonic() + self.connect_timeout
        while not all(c.connected for c in conns):
            self.check(conns)
            if time.monotonic() > deadline:
                late = next(c for c in conns if not c.connected)
                raise PublishError(late.client_id, "no CONNACK in time")
            self.pump(0.05)

    def drop(self, conn: _Conn) -> None:
        """Lose power: close the socket without DISCONNECT so the broker fires the will."""
        if conn.buffered is not None:
            conn.buffered.flush()
        self.selector.unregister(conn.sock)
        self.conns.remove(conn)
        conn.connected = False
        with contextlib.suppress(OSError):  # already gone: the will fires either way
            conn.sock.shutdown(socket.SHUT_RDWR)
        conn.sock.close()

    def close(self, conn: _Conn) -> None:
        conn.connected = False
        conn.client.disconnect()
        conn.client.loop_write()
        if conn.buffered is not None:
            conn.buffered.flush()
        self.selector.unregister(conn.sock)
        self.conns.remove(conn)
        conn.sock.close()

    # --- traffic -------------------------------------------------------------------
    def check(self, conns: Iterable[_Conn]) -> None:
        for c in conns:
            if c.error:
                raise PublishError(c.client_id, c.error)

    def pump(self, timeout: float) -> None:
        """Flush pending writes, read acknowledgements, keep connections alive."""
        blocked = False
        for c in self.conns:
            if c.client.want_write():
                c.client.loop_write()
            if c.buffered is not None and c.buffered.wbuf and not c.buffered.flush():
                blocked = True
        if blocked:
            timeout = min(timeout, 0.002)  # retry the write soon
        for key, _ in self.selector.select(timeout):
            conn: _Conn = key.data
            rc = conn.client.loop_read(max_packets=10_000)
            if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                conn.error = conn.error or f"connection lost ({rc.name})"
        now = time.monotonic()
        if now - self.last_misc > 1.0:
            self.last_misc = now
            for c in self.conns:
                c.client.loop_misc()

    def send(self, conn: _Conn, message: Message) -> None:
        while self.inflight >= self.max_inflight:
            self.pump(0.05)
            self.check(self.conns)
        info = conn.client.publish(message.topic, message.payload, qos=1, retain=message.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishError(conn.client_id, f"publish failed: {info.rc.name}")
        conn.inflight += 1
        self.inflight += 1

    def drain(self, conns: Sequence[_Conn], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(c.inflight for c in conns):
            self.check(conns)
            if time.monotonic() > deadline:
                late = next(c for c in conns if c.inflight)
                raise PublishError(late.client_id, f"{late.inflight} messages unacknowledged")
            self.pump(0.05)


def publish(
    messages: Iterable[Message],
    *,
    mqtt_url: MqttUrl,
    devices: Sequence[Device],
    topic_root: str = "city",
    mode: Mode = "gateway",
    gateways: int = 4,
    speed: float | None = None,
    rate: float | None = None,
    max_inflight: int = 2000,
    client_prefix: str = "citypulse-sim",
    ca_file: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    progress_every_s: float = 2.0,
    connect_timeout: float = 10.0,
    drain_timeout: float = 60.0,
    protocol: Literal["5", "3.1.1"] = "5",
    client: Literal["paho", "lean"] = "paho",
) -> PublishReport:
    """Publish ``messages`` (time-ordered, from :class:`Simulation`) and wait for every ack.

    Pacing: ``rate`` offers a fixed number of messages per second of wall time; else
    ``speed`` runs simulated time that many times faster than the wall clock (1 = real
    time); with neither, as fast as the broker acknowledges.  ``client="lean"`` publishes
    through :class:`simulator._wire.LeanPublisher` (gateway mode, MQTT 3.1.1), at a
    fraction of paho's cost per message.
    """
    if not 1 <= max_inflight <= 60_000:
        raise ValueError("max_inflight must be within 1..60000 (MQTT message ids are 16-bit)")
    if (rate is not None and rate <= 0) or (speed is not None and speed <= 0):
        raise ValueError("rate and speed must be positive")
    if client == "lean" and mode != "gateway":
        raise ValueError("the lean client publishes in gateway mode only (no last wills)")
    pub: Any = (  # the two share the methods used below; device mode is paho's alone
        LeanPublisher(
            mqtt_url=mqtt_url,
            ca_file=ca_file,
            max_inflight=max_inflight,
            connect_timeout=connect_timeout,
        )
        if client == "lean"
        else _Publisher(
            mqtt_url=mqtt_url,
            ca_file=ca_file,
            max_inflight=max_inflight,
            connect_timeout=connect_timeout,
            protocol=MQTTProtocolVersion.MQTTv311
            if protocol == "3.1.1"
            else MQTTProtocolVersion.MQTTv5,
        )
    )
    by_device: dict[str, _Conn] = {}
    wills = {d.id: topic(topic_root, d, "status") for d in devices}
    sent = nbytes = dropped = 0

    def open_device(device_id: str) -> _Conn:
        conn: _Conn = pub.open(
            f"{client_prefix}-{device_id}",
            username=device_id,
            will=(wills[device_id], WILL_PAYLOAD),
        )
        by_device[device_id] = conn
        return conn

    try:
        if mode == "device":
            for d in devices:
                open_device(d.id)
        else:
            shared = [
                pub.open(f"{client_prefix}-gw{k}", username=mqtt_url.username, will=None)
                for k in range(max(1, gateways))
            ]
            for n, d in enumerate(devices):
                by_device[d.id] = shared[n % len(shared)]
        pub.wait_connected(pub.conns)
        connections = len(pub.conns)
        # Read acknowledgements in bulk: with many connections, pumping after every few
        # messages costs a paho read call per ack.  Stay well inside the in-flight cap.
        pump_every = max(1, min(max(256, 8 * connections), max_inflight // 2))
        log.info("simulator: %d %s connection(s) to %s", connections, mode, mqtt_url.url())

        wall0 = time.monotonic()
        next_progress = wall0 + progress_every_s
        sim0: float | None = None
        last_t = 0.0
        for message in messages:
            if sim0 is None:
                sim0 = message.t
            last_t = message.t
            target = None
            if rate is not None:
                target = wall0 + sent / rate
            elif speed is not None:
                target = wall0 + (message.t - sim0) / speed
            now = time.monotonic()
            while target is not None and now < target:
                pub.pump(min(target - now, 0.05))
                now = time.monotonic()
            if now >= next_progress:
                next_progress = now + progress_every_s
                pub.check(pub.conns)
                if progress is not None:
                    progress(Progress(sent, last_t, now - wall0, pub.inflight))
            conn = by_device.get(message.device_id)
            if mode == "device":
                if message.last_will:
                    if conn is not None:
                        pub.drain([conn], drain_timeout)  # what it sent before dying arrives
                        pub.drop(conn)
                        del by_device[message.device_id]
                        dropped += 1
                    continue
                if conn is None:  # power is back: the device reconnects
                    conn = open_device(message.device_id)
                    pub.wait_connected([conn])
            elif message.last_will:
                message = replace(message, payload=gateway_will(message.t))
            if conn is None:
                raise PublishError(client_prefix, f"no connection for {message.device_id!r}")
            pub.send(conn, message)
            sent += 1
            nbytes += len(message.payload)
            if sent % pump_every == 0:
                pub.pump(0.0)
        pub.drain(pub.conns, drain_timeout)
        wall = time.monotonic() - wall0
        if progress is not None:
            progress(Progress(sent, last_t, wall, pub.inflight))
    finally:
        for conn in list(pub.conns):
            try:
                pub.close(conn)
            except (OSError, ValueError, KeyError):
                log.warning("simulator: closing %s failed", conn.client_id, exc_info=True)
        pub.selector.close()
    return PublishReport(sent, nbytes, dropped, wall, connections, mode)
