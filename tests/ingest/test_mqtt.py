"""FastClient: paho with a buffered reader, checked against stock paho and the MQTT spec."""

from __future__ import annotations

import socket
import struct
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest._mqtt import CHUNK, FastClient
from tests._mqtt import wait_for
from tests.fix_mqtt import Broker

Received = tuple[str, bytes, int]  # topic, payload, qos


# --- the parser, fed a byte stream cut anywhere ----------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic: str, payload: bytes, qos: int, mid: int, props: bytes | None) -> bytes:
    """A PUBLISH packet; ``props`` is the encoded MQTT 5 property block, None for 3.1.1."""
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t
    if qos:
        body += struct.pack("!H", mid)
    if props is not None:
        body += _varint(len(props)) + props
    body += payload
    return bytes([0x30 | (qos << 1)]) + _varint(len(body)) + body


@contextmanager
def _client(
    v5: bool, *, many: bool = False
) -> Iterator[tuple[FastClient, socket.socket, list[Received]]]:
    """A FastClient reading from one end of a socket pair; the test writes the other.
    ``many``: it delivers through ``on_publish_many`` (a list per read), as ingest's is."""
    got: list[Received] = []
    client = (
        FastClient(
            client_id="parser",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            on_publish_many=lambda messages: got.extend((t, p, q) for t, p, _, q in messages),
        )
        if many
        else FastClient(
            client_id="parser",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            on_publish=lambda topic, payload, mid, qos: got.append((topic, payload, qos)),
        )
    )
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client._sock = ours
    try:
        yield client, theirs, got
    finally:
        client._sock_close()
        theirs.close()


_messages = st.lists(
    st.tuples(
        st.text(alphabet="abcxyz/é0-", min_size=1, max_size=30),
        st.binary(max_size=400),
        st.integers(0, 1),
        st.booleans(),  # an MQTT 5 property (content type) that takes paho's own path
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    messages=_messages,
    cuts=st.lists(st.integers(1, 700), min_size=1, max_size=50),
    v5=st.booleans(),
    many=st.booleans(),
)
def test_every_publish_arrives_once_in_order_wherever_the_stream_is_cut(
    messages: list[tuple[str, bytes, int, bool]], cuts: list[int], v5: bool, many: bool
) -> None:
    with _client(v5, many=many) as (client, peer, got):
        stream = b""
        for i, (topic, payload, qos, with_props) in enumerate(messages):
            props = None
            if v5:
                props = b"\x03" + struct.pack("!H", 4) + b"text" if with_props else b""
            stream += _publish(topic, payload, qos, i + 1, props)
        pos, k = 0, 0
        while pos < len(stream):
            step = cuts[k % len(cuts)]
            k += 1
            peer.sendall(stream[pos : pos + step])
            pos += step
            while client._packet_read() == MQTTErrorCode.MQTT_ERR_SUCCESS:
                pass
        assert got == [(topic, payload, qos) for topic, payload, qos, _ in messages]
        assert not client._buffer


def test_a_payload_larger_than_one_read_arrives_whole() -> None:
    with _client(True) as (client, peer, got):
        big = bytes(range(256)) * (3 * CHUNK // 256 + 7)
        packet = _publish("city/a/camera/c1/telemetry", big, 1, 9, b"")
        sender = threading.Thread(target=peer.sendall, args=(packet,))
        sender.start()
        while not got:
            rc = client._packet_read()
            assert rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN)
        sender.join()
        assert got == [("city/a/camera/c1/telemetry", big, 1)]


def test_a_length_of_more_than_four_bytes_is_a_protocol_error() -> None:
    with _client(True) as (client, peer, got):
        peer.sendall(b"\x32\xff\xff\xff\xff\x01")
        assert client._packet_read() == MQTTErrorCode.MQTT_ERR_PROTOCOL
        assert got == []


def test_a_closed_connection_is_reported_and_the_partial_packet_forgotten() -> None:
    with _client(True) as (client, peer, got):
        peer.sendall(_publish("t/x", b"abc", 1, 1, b"")[:-1])
        assert client._packet_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert client._buffer
        peer.shutdown(socket.SHUT_WR)
        assert client._packet_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST
        client._sock_close()
        assert not client._buffer
        assert got == []


# --- against a real Mosquitto, side by side with stock paho ------------------------------


def _stock(broker: Broker, topic: str, got: list[Received], ready: threading.Event) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"stock-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5
    )
    client.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload), m.qos))
    client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *a: ready.set()
    client.connect(broker.mqtt.host, broker.mqtt.port)
    client.loop_start()
    return client


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311])
def test_receives_what_stock_paho_receives(
    mqtt_broker: Broker, topic_root: str, protocol: Any
) -> None:
    topic = f"{topic_root}/#"
    fast_got: list[Received] = []
    ready_fast, ready_stock = threading.Event(), threading.Event()

    def on_publish(t: str, payload: bytes, mid: int, qos: int) -> None:
        fast_got.append((t, payload, qos))
        fast.ack(mid, qos)  # manual acknowledgement, as the worker does after its commit

    fast = FastClient(
        client_id=f"fast-{uuid.uuid4().hex[:6]}", protocol=protocol, on_publish=on_publish
    )
    fast.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
    fast.on_subscribe = lambda *a: ready_fast.set()
    fast.connect(mqtt_broker.mqtt.host, mqtt_broker.mqtt.port)
    fast.loop_start()
    stock_got: list[Received] = []
    stock = _stock(mqtt_broker, topic, stock_got, ready_stock)
    try:
        assert ready_fast.wait(10)
        assert ready_stock.wait(10)
        pub = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"pub-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )
        pub.connect(mqtt_broker.mqtt.host, mqtt_broker.mqtt.port)
        pub.loop_start()
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ContentType = "application/json"
        props.UserProperty = ("gateway", "gw-7")
        infos = []
        for i in range(600):
            payload = (b'{"i":%d}' % i) * (1 + i % 5)
            infos.append(
                pub.publish(
                    f"{topic_root}/d{i % 7}/t",
                    payload,
                    qos=i % 2,
                    properties=props if i % 10 == 3 else None,
                )
            )
        big = b"x" * (CHUNK + 12_345)
        infos.append(pub.publish(f"{topic_root}/big", big, qos=1))
        for info in infos:
            info.wait_for_publish(10)
        pub.disconnect()
        pub.loop_stop()
        wait_for(lambda: len(fast_got) >= 601 and len(stock_got) >= 601, 20, "both subscribers")
        assert sorted(fast_got) == sorted(stock_got)
        assert len(fast_got) == 601
        assert (f"{topic_root}/big", big, 1) in fast_got
    finally:
        for client in (fast, stock):
            client.disconnect()
            client.loop_stop()
