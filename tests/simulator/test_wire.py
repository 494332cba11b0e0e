"""The lean gateway publisher: MQTT 3.1.1 packets a real Mosquitto accepts and refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citypulse import MqttUrl
from citypulse.devices._mosquitto import hash_password
from simulator import PublishError
from simulator._wire import LeanPublisher, _remaining
from tests.fix_mqtt import Broker, _stopped_after, start_broker


@pytest.mark.parametrize(
    ("n", "encoded"),
    [  # the examples of MQTT 3.1.1, section 2.2.3
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (16_383, "ff7f"),
        (16_384, "808001"),
        (2_097_151, "ffff7f"),
        (2_097_152, "80808001"),
    ],
)
def test_remaining_length_is_mqtts_variable_length(n: int, encoded: str) -> None:
    assert _remaining(n).hex() == encoded


@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[Broker]:
    (tmp_path / "passwd").write_text(f"gw:{hash_password('right')}\n")
    conf = f"allow_anonymous false\npassword_file {tmp_path / 'passwd'}\n"
    with _stopped_after(start_broker(tmp_path, conf)) as broker:
        yield broker


def _publisher(broker: Broker, password: str) -> LeanPublisher:
    url = MqttUrl.parse(broker.url.replace("mqtt://", f"mqtt://gw:{password}@"))
    return LeanPublisher(mqtt_url=url, ca_file=None, max_inflight=10, connect_timeout=5.0)


def test_a_refused_login_is_a_clear_error(password_broker: Broker) -> None:
    with pytest.raises(PublishError, match="connection refused: not authorised"):
        _publisher(password_broker, "wrong").open("gw-1", username="gw", will=None)


def test_a_gateway_login_publishes_and_is_acknowledged(password_broker: Broker) -> None:
    from simulator import Message

    pub = _publisher(password_broker, "right")
    conn = pub.open("gw-1", username="gw", will=None)
    for i in range(25):
        pub.send(conn, Message(float(i), "city/x/camera/c/telemetry", b"{}", i == 0, "c"))
    assert conn.inflight > 0
    pub.drain([conn], timeout=10.0)
    assert conn.inflight == 0
    pub.close(conn)
    with pytest.raises(PublishError, match="last wills"):
        pub.open("gw-2", username="gw", will=("city/x/status", b"{}"))
