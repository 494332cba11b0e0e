"""paho's MQTT client with a buffered reader and a lean path for PUBLISH packets.

Stock paho 2.2 reads each packet with three or four ``recv`` calls (the command byte,
the remaining length a byte at a time, then the rest), goes once round its select loop
per packet, and builds an MQTT 5 ``Properties`` object for every PUBLISH — about 20 µs
on its own on this project's reference machine.  At tens of thousands of messages a
second that is most of a core, and the receiving thread drops the GIL at every call.

:class:`FastClient` keeps everything of paho's — connecting, reconnecting, keepalive,
TLS, subscriptions, the MQTT 5 / 3.1.1 handshake, every packet type but one — and
changes two things:

- ``_packet_read`` takes whatever the socket has (up to :data:`CHUNK` bytes) with one
  ``recv`` and handles every complete packet in it, keeping a partial one for the next
  read;
- a QoS 0 or 1 PUBLISH without MQTT 5 properties (what a broker sends a subscriber that
  asked for no topic aliases) goes straight to ``on_publish(topic, payload, mid, qos)``
  without an ``MQTTMessage`` or ``Properties``; or, given ``on_publish_many`` instead,
  the messages of one read go to it as one list of such tuples, in order, so that the
  receiver takes its locks once per read rather than once per message.  Anything else —
  QoS 2, a PUBLISH with properties, every other packet type — is handed to paho's own
  handlers unchanged, and ``on_message`` messages reach ``on_publish`` (or
  ``on_publish_many``) too.

Acknowledgement stays manual (``manual_ack=True`` is required): the caller acknowledges
after its own commit.

The caller may also :meth:`~FastClient.hold` reading when it holds as much as it may: the
network thread then leaves the socket unread (the broker's messages wait in the kernel's
buffer and the broker's queue) but goes on sending acknowledgements and keepalive pings,
so a long database outage never costs the connection.  Waiting inside ``on_publish``
instead would stop the pings, and the broker would drop the connection after 1.5
keepalives and redeliver everything unacknowledged.

The overrides are paho-internal methods, so paho is pinned to 2.2.0;
``tests/ingest/test_mqtt.py`` checks this client against stock paho packet for packet.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK, PUBLISH, time_func
from paho.mqtt.enums import (
    CallbackAPIVersion,
    MQTTErrorCode,
    MQTTProtocolVersion,
    _ConnectionState,
)
from paho.mqtt.exception import MalformedPacket

if TYPE_CHECKING:
    from paho.mqtt.client import _InPacket

CHUNK: Final = 256 * 1024  # bytes taken from the socket per read
_PUBACK: Final = struct.Struct("!BBH")
_HELD_POLL: Final = 0.1  # s: how often a held reader wakes for acks and pings
OnPublish = Callable[[str, bytes, int, int], None]  # topic, payload, mid, qos
Message = tuple[str, bytes, int, int]  # topic, payload, mid, qos
OnPublishMany = Callable[[list[Message]], None]
OnRetry = Callable[[float, OSError | None], None]  # delay before the next attempt, why


class FastClient(mqtt.Client):
    """A paho ``Client`` (callback API 2, ``manual_ack``) with a fast reader; see module."""

    def __init__(
        self,
        *,
        client_id: str,
        protocol: MQTTProtocolVersion,
        on_publish: OnPublish | None = None,
        on_publish_many: OnPublishMany | None = None,
        on_retry: OnRetry | None = None,
        **kw: Any,
    ) -> None:
        if (on_publish is None) == (on_publish_many is None):
            raise ValueError("give one of on_publish and on_publish_many")
        super().__init__(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            manual_ack=True,
            **kw,
        )
        self._deliver = on_publish
        self._deliver_many = on_publish_many
        self._on_retry = on_retry
        self._connect_error: OSError | None = None  # why the last connection attempt failed
        self._buffer = b""  # the start of a packet whose rest has not arrived yet
        self._reading = threading.Event()  # cleared: leave the socket unread (see hold)
        self._reading.set()
        self.on_message = self._slow_message

    def hold(self) -> None:
        """Stop reading from the broker until :meth:`resume`; acks and pings go on.

        Takes effect at the next read: the packets already read are still delivered."""
        self._reading.clear()

    def resume(self) -> None:
        """Read from the broker again (after :meth:`hold`)."""
        self._reading.set()

    @property
    def held(self) -> bool:
        return not self._reading.is_set()

    def loop_misc(self) -> MQTTErrorCode:
        """paho's keepalive, except while reading is held on a live connection.

        paho counts a keepalive from the last byte it read and drops a connection whose
        PINGRESP has not been read within one; a held reader reads nothing, the PINGRESP
        included.  So while held, a PINGREQ goes out every half keepalive (the broker
        only needs to hear from us within 1.5) and paho's clocks are kept from running
        out; the broker's answers wait in the socket until reading resumes."""
        if (
            self._reading.is_set()
            or self._sock is None
            or self._state != _ConnectionState.MQTT_CS_CONNECTED
            or not self._keepalive
        ):
            return super().loop_misc()
        now = time_func()
        with self._msgtime_mutex:
            due = now - self._last_msg_out >= self._keepalive / 2
            self._last_bytes_received = now
            if due:
                self._last_msg_out = now
        if due:
            self._send_pingreq()
        self._ping_t = 0.0  # no PINGRESP is awaited while nothing is read
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def reconnect(self) -> MQTTErrorCode:
        """paho's, remembering why an attempt failed (paho's network thread swallows it)."""
        try:
            rc = super().reconnect()
        except OSError as exc:  # refused, unresolvable, timed out, TLS
            self._connect_error = exc
            raise
        self._connect_error = None
        return rc

    def _reconnect_wait(self) -> None:
        """paho's wait before the next connection attempt, announced to ``on_retry`` with
        its delay (paho's: the minimum, doubled each time up to the maximum) and the
        reason the last attempt failed, so that a broker that cannot be reached is seen."""
        if self._on_retry is not None:
            with self._reconnect_delay_mutex:
                last = self._reconnect_delay
                delay = (
                    self._reconnect_min_delay
                    if last is None
                    else min(last * 2, self._reconnect_max_delay)
                )
            self._on_retry(delay, self._connect_error)
        super()._reconnect_wait()

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge QoS 1 messages in one write instead of a packet and a wake-up each.

        What ``ack`` does per message, through paho's packet queue with the PUBACKs
        joined: MQTT allows any number of packets in one TCP write.
        """
        if mids:
            pack = _PUBACK.pack
            self._packet_queue(PUBACK, b"".join([pack(PUBACK, 2, mid) for mid in mids]), 0, 0)

    def _slow_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # a broker must not send this; keep it visible
            topic = bytes(msg._topic).decode("utf-8", "replace")
        payload = msg.payload if type(msg.payload) is bytes else bytes(msg.payload)
        if self._deliver_many is not None:
            self._deliver_many([(topic, payload, msg.mid, msg.qos)])
        else:
            assert self._deliver is not None
            self._deliver(topic, payload, msg.mid, msg.qos)

    def _sock_close(self) -> None:
        self._buffer = b""  # what was left belongs to the old connection
        super()._sock_close()

    def _packet_read(self) -> MQTTErrorCode:
        if not self._reading.is_set() and self._state == _ConnectionState.MQTT_CS_CONNECTED:
            # Held: back to paho's loop (writes, pings) within _HELD_POLL s; at once when
            # resumed.  (Before a CONNACK the socket is always read.)
            self._reading.wait(_HELD_POLL)
            return MQTTErrorCode.MQTT_ERR_AGAIN
        try:
            data = self._sock_recv(CHUNK)
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:  # TimeoutError included
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        with self._msgtime_mutex:
            self._last_bytes_received = time_func()
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        return self._handle_packets(data)

    def _handle_packets(self, data: bytes) -> MQTTErrorCode:
        """Handle every complete packet in ``data``; keep an incomplete tail for later."""
        sock = self._sock
        end = len(data)
        pos = 0
        v5 = self._protocol == mqtt.MQTTv5
        deliver = self._deliver
        many = self._deliver_many
        got: list[Message] = []  # with on_publish_many: this read's messages, in order
        while pos < end:
            # fixed header: the command byte, then the remaining length in 1..4 bytes
            p = pos + 1
            length = 0
            shift = 0
            complete = False
            while p < end and shift <= 21:
                byte = data[p]
                p += 1
                length |= (byte & 127) << shift
                shift += 7
                if not byte & 128:
                    complete = True
                    break
            if not complete:
                if shift > 21:
                    return MQTTErrorCode.MQTT_ERR_PROTOCOL  # more than 4 length bytes
                break  # the header is still arriving
            body_end = p + length
            if body_end > end:
                break  # the body is still arriving
            command = data[pos]
            pos = body_end
            qos = (command >> 1) & 3
            if command & 0xF0 == PUBLISH and qos < 2 and length >= 2:
                # variable header: topic, packet id (QoS 1), properties (MQTT 5); payload
                topic_end = p + 2 + ((data[p] << 8) | data[p + 1])
                q = topic_end + 2 if qos else topic_end
                mid = (data[topic_end] << 8) | data[topic_end + 1] if qos and q <= body_end else 0
                plain = not v5 or (q < body_end and not data[q])  # no MQTT 5 properties
                if topic_end > p + 2 and q <= body_end and plain:
                    topic = data[p + 2 : topic_end].decode("utf-8", "replace")
                    payload = data[q + 1 if v5 else q : body_end]
                    if many is not None:
                        got.append((topic, payload, mid, qos))
                    else:
                        assert deliver is not None
                        deliver(topic, payload, mid, qos)
                    continue
            if got:
                assert many is not None
                many(got)  # before paho's packet, so that messages keep their order
                got = []
                if self._sock is not sock:
                    return MQTTErrorCode.MQTT_ERR_SUCCESS  # a callback disconnected
            rc = self._paho_handle(command, length, bytearray(data[p:body_end]))
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc  # paho drops the connection, and the buffer with it
            if self._sock is not sock:
                return rc  # a callback disconnected: the rest is the old connection's
        self._buffer = data[pos:]
        if got:
            assert many is not None
            many(got)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _paho_handle(self, command: int, length: int, packet: bytearray) -> MQTTErrorCode:
        """One packet through paho's own handlers, as its reader would have passed it."""
        self._in_packet = _in_packet(command, length, packet)
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = _in_packet(0, 0, bytearray())  # paho's state between packets
        return rc


def _in_packet(command: int, length: int, packet: bytearray) -> _InPacket:
    """paho's ``_in_packet`` state: a whole packet read (or none, for command 0)."""
    return {
        "command": command,
        "have_remaining": 1 if command else 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": length,
        "packet": packet,
        "to_process": 0,
        "pos": 0,
    }
