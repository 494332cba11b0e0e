"""A lean QoS 1 publisher for gateway connections: MQTT 3.1.1 written by hand.

paho costs about 80 µs of CPU per QoS 1 message here (one publisher worker's share of
the large city flooded into a local Mosquitto): an ``MQTTMessageInfo`` with its own condition
variable per message, a walk over every message in flight on each PUBACK, and in MQTT 5
a ``Properties`` and two ``ReasonCode`` objects per acknowledgement.  A real gateway is
no Python process; a benchmark that simulates ten thousand devices on the machine it
measures should not spend most of a core being the gateways.

:class:`LeanPublisher` does only what a gateway publishing telemetry needs: CONNECT with
username and password (TLS optional), PUBLISH at QoS 1 with packet ids it assigns, PUBACK
counted, PINGREQ when idle, DISCONNECT.  Writes are buffered and sent in bursts; reads
take whatever the socket has and count the acknowledgements in it.  It has no wills and
no reconnection: a lost connection is an error (the benchmark fails, as it should).
"""

from __future__ import annotations

import selectors
import socket
import ssl
import struct
import time
from collections.abc import Sequence
from typing import Final

from citypulse import MqttUrl
from simulator._errors import PublishError
from simulator._message import Message

_PUBACK: Final = 0x40
_PINGRESP: Final = 0xD0
_CONNACK: Final = 0x20
_KEEPALIVE_S: Final = 60
_CHUNK: Final = 256 * 1024
_H: Final = struct.Struct("!H")

_REFUSED: Final = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def _str16(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return _H.pack(len(b)) + b


def _remaining(n: int) -> bytes:
    """MQTT's variable-length remaining length."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    flags = 0x02  # clean session
    payload = _str16(client_id)
    if username:
        flags |= 0x80
        payload += _str16(username)
        if password:
            flags |= 0x40
            payload += _str16(password)
    body = _str16("MQTT") + bytes((4, flags)) + _H.pack(_KEEPALIVE_S) + payload
    return b"\x10" + _remaining(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, mid: int, retain: bool) -> bytes:
    """A QoS 1 PUBLISH (``topic`` already UTF-8)."""
    head = 0x33 if retain else 0x32
    length = 4 + len(topic) + len(payload)
    return (
        bytes((head,)) + _remaining(length) + _H.pack(len(topic)) + topic + _H.pack(mid) + payload
    )


class LeanConnection:
    """One gateway connection; see the module docstring."""

    __slots__ = ("client_id", "inflight", "last_write", "mid", "rbuf", "sock", "topics", "wbuf")

    def __init__(self, url: MqttUrl, client_id: str, *, ca_file: str | None, timeout: float):
        self.client_id = client_id
        raw = socket.create_connection((url.host, url.port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = raw
        self.rbuf = b""
        self.wbuf = bytearray()
        self.inflight = 0
        self.mid = 0
        self.topics: dict[str, bytes] = {}
        try:
            if url.tls:
                ctx = ssl.create_default_context(cafile=ca_file)
                self.sock = ctx.wrap_socket(raw, server_hostname=url.host)
            self.sock.sendall(connect_packet(client_id, url.username, url.password.value or None))
            ack = self._read_exactly(4)
            if ack[0] != _CONNACK or ack[1] != 2:
                raise PublishError(client_id, f"unexpected reply to CONNECT: {ack.hex()}")
            if ack[3]:
                why = _REFUSED.get(ack[3], f"code {ack[3]}")
                raise PublishError(client_id, f"connection refused: {why}")
        except BaseException:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.last_write = time.monotonic()

    def _read_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            got = self.sock.recv(n - len(data))
            if not got:
                raise PublishError(self.client_id, "the broker closed the connection")
            data += got
        return data

    def publish(self, message: Message) -> None:
        topic = self.topics.get(message.topic)
        if topic is None:
            topic = self.topics[message.topic] = message.topic.encode()
        self.mid = self.mid % 65535 + 1
        self.wbuf += publish_packet(topic, message.payload, self.mid, message.retain)
        self.inflight += 1

    def flush(self) -> bool:
        """Write what the socket takes; True when nothing is left."""
        if self.wbuf:
            try:
                sent = self.sock.send(self.wbuf)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            except OSError as exc:
                raise PublishError(self.client_id, f"connection lost: {exc}") from exc
            del self.wbuf[:sent]
            self.last_write = time.monotonic()
        return not self.wbuf

    def read(self) -> int:
        """Take what the socket has; returns the acknowledgements in it."""
        try:
            data = self.sock.recv(_CHUNK)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return 0
        except OSError as exc:
            raise PublishError(self.client_id, f"connection lost: {exc}") from exc
        if not data:
            raise PublishError(self.client_id, "the broker closed the connection")
        buf = self.rbuf + data if self.rbuf else data
        i, end = 0, len(buf)
        acked = 0
        while end - i >= 2:
            kind, length = buf[i], buf[i + 1]
            if length & 0x80:  # a broker sends a publisher nothing this long
                raise PublishError(self.client_id, f"unexpected packet {kind:#x} from the broker")
            if end - i < 2 + length:
                break
            if kind == _PUBACK:
                acked += 1
            elif kind != _PINGRESP:
                raise PublishError(self.client_id, f"unexpected packet {kind:#x} from the broker")
            i += 2 + length
        self.rbuf = buf[i:]
        if acked > self.inflight:
            raise PublishError(self.client_id, "more acknowledgements than messages in flight")
        self.inflight -= acked
        return acked

    def ping_if_idle(self, now: float) -> None:
        if now - self.last_write > _KEEPALIVE_S / 2 and not self.wbuf:
            self.wbuf += b"\xc0\x00"

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(bytes(self.wbuf) + b"\xe0\x00")
        except OSError:
            pass
        finally:
            self.sock.close()


class LeanPublisher:
    """Gateway connections driven by one selector; ``max_inflight`` over all of them."""

    def __init__(
        self, *, mqtt_url: MqttUrl, ca_file: str | None, max_inflight: int, connect_timeout: float
    ) -> None:
        self.url = mqtt_url
        self.ca_file = ca_file
        self.max_inflight = max_inflight
        self.connect_timeout = connect_timeout
        self.selector = selectors.DefaultSelector()
        self.conns: list[LeanConnection] = []
        self.inflight = 0  # over all connections
        self.last_misc = time.monotonic()

    def open(
        self, client_id: str, *, username: str | None, will: tuple[str, bytes] | None
    ) -> LeanConnection:
        """A gateway connection (``username`` is the URL's: no per-device logins)."""
        if will is not None:
            raise PublishError(client_id, "the lean publisher has no last wills (device mode)")
        conn = LeanConnection(
            self.url, client_id, ca_file=self.ca_file, timeout=self.connect_timeout
        )
        self.conns.append(conn)
        self.selector.register(conn.sock, selectors.EVENT_READ, conn)
        return conn

    def wait_connected(self, conns: Sequence[LeanConnection]) -> None:
        """Connected already: CONNECT waits for its CONNACK."""

    def check(self, conns: Sequence[LeanConnection]) -> None:
        """Errors are raised where they happen."""

    def pump(self, timeout: float) -> None:
        blocked = False
        for c in self.conns:
            if c.wbuf and not c.flush():
                blocked = True
        if blocked:
            timeout = min(timeout, 0.002)  # retry the write soon
        for key, _ in self.selector.select(timeout):
            conn: LeanConnection = key.data
            self.inflight -= conn.read()
        now = time.monotonic()
        if now - self.last_misc > 1.0:
            self.last_misc = now
            for c in self.conns:
                c.ping_if_idle(now)

    def send(self, conn: LeanConnection, message: Message) -> None:
        while self.inflight >= self.max_inflight:
            self.pump(0.05)
        conn.publish(message)
        self.inflight += 1

    def drain(self, conns: Sequence[LeanConnection], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(c.inflight for c in conns):
            if time.monotonic() > deadline:
                late = next(c for c in conns if c.inflight)
                raise PublishError(late.client_id, f"{late.inflight} messages unacknowledged")
            self.pump(0.05)

    def close(self, conn: LeanConnection) -> None:
        self.selector.unregister(conn.sock)
        self.conns.remove(conn)
        self.inflight -= conn.inflight
        conn.close()
