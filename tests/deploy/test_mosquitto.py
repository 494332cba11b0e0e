"""The shipped broker config (deploy/mosquitto) enforced by the real Mosquitto.

The config is used as shipped, rewritten only for ports, paths and the log destination;
logins are written by `citypulse devices add` / `devices login`; the TLS listener gets a
throwaway self-signed certificate made with openssl.
"""

from __future__ import annotations

import io
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from citypulse.cli import main
from tests._procs import find_binary, free_port, wait_for_port

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
INGEST = INGEST_ID = "citypulse-ingest-1"  # ingest-1's login and client id (docker-compose.yml)
INGEST_2 = "citypulse-ingest-2"
CONSOLE = "citypulse-console"  # serve's read-only login for devices' status


@dataclass
class ShippedBroker:
    dir: Path
    port: int
    tls_port: int
    ca_file: Path
    passwords: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    db_url: str = ""

    @property
    def password_file(self) -> Path:
        return self.dir / "passwd"


def shipped_conf(directory: Path, port: int, tls_port: int) -> str:
    """The shipped mosquitto.conf with only ports, paths and log destination replaced."""
    conf = (SHIPPED / "mosquitto.conf").read_text()
    for old, new in [
        ("/mosquitto/config/", f"{directory}/"),
        ("/mosquitto/data/", f"{directory}/"),
        ("/mosquitto/certs/", f"{directory}/"),
        ("\nlistener 1883\n", f"\nlistener {port} 127.0.0.1\n"),
        ("\nlistener 8883\n", f"\nlistener {tls_port} 127.0.0.1\n"),
        ("\nlog_dest stdout\n", f"\nlog_dest file {directory}/mosquitto.log\n"),
    ]:
        assert old in conf, f"shipped mosquitto.conf no longer has {old.strip()!r}"
        conf = conf.replace(old, new)
    return conf


def make_cert(directory: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(directory / "server.key"), "-out", str(directory / "server.crt"),
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def add_login(args: list[str], password: str | None, capsys: pytest.CaptureFixture[str]) -> str:
    """Run a `citypulse devices ...` command; return the password it printed or was given."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stdin", io.StringIO(f"{password}\n" if password else ""))
        assert main(args + (["--password-stdin"] if password else [])) == 0
    out = capsys.readouterr().out.strip()
    return password or out


def start_broker(b: ShippedBroker) -> None:
    """Start Mosquitto on ``b``'s config and data and wait until both listeners answer."""
    binary = find_binary("mosquitto", ["/usr/sbin", "/usr/local/sbin"])
    assert binary is not None, "mosquitto is not installed"
    b.proc = subprocess.Popen(
        [binary, "-c", str(b.dir / "mosquitto.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(b.port)
    wait_for_port(b.tls_port)


def restart_broker(b: ShippedBroker, sig: signal.Signals) -> None:
    """Stop the broker with ``sig`` (SIGTERM saves its state, SIGKILL does not) and start
    it again on the same config and persistence file."""
    assert b.proc is not None
    b.proc.send_signal(sig)
    b.proc.wait(timeout=30)
    start_broker(b)


@pytest.fixture
def broker(db_url: str, capsys: pytest.CaptureFixture[str]) -> Iterator[ShippedBroker]:
    binary = find_binary("mosquitto", ["/usr/sbin", "/usr/local/sbin"])
    assert binary is not None, "mosquitto is not installed"
    directory = Path(tempfile.mkdtemp(prefix="citypulse-shipped-mqtt-"))
    try:
        port, tls_port = free_port(), free_port()
        (directory / "mosquitto.conf").write_text(shipped_conf(directory, port, tls_port))
        shutil.copy(SHIPPED / "acl", directory / "acl")
        make_cert(directory)
        b = ShippedBroker(directory, port, tls_port, directory / "server.crt", db_url=db_url)
        pw = str(b.password_file)
        # As root, mosquitto drops to its own user, the password file's only reader.
        owner = ["--broker-user", "mosquitto"] if os.geteuid() == 0 else []
        for name in (INGEST, INGEST_2):  # one login per worker, one password (stack-init)
            b.passwords[name] = add_login(
                ["devices", "login", name, "--password-file", pw,
                 "--acl-file", str(directory / "acl"), *owner], "ingest-secret", capsys,
            )  # fmt: skip
        b.passwords[CONSOLE] = add_login(
            ["devices", "login", CONSOLE, "--password-file", pw,
             "--acl-file", str(directory / "acl"), *owner], "console-secret", capsys,
        )  # fmt: skip
        for dev, kind in [("cam-1", "camera"), ("eco-2", "ecology")]:
            b.passwords[dev] = add_login(
                ["--database-url", db_url, "devices", "add", dev, "--kind", kind,
                 "--district", "leninsky", "--lat", "54.51", "--lon", "36.26",
                 "--password-file", pw, "--acl-file", str(directory / "acl"), *owner],
                None, capsys,
            )  # fmt: skip
        if os.geteuid() == 0:  # the broker's user must reach the folder and its own files
            ids = pwd.getpwnam("mosquitto")
            for p in [directory, *directory.iterdir()]:
                if p != b.password_file:
                    os.chown(p, ids.pw_uid, ids.pw_gid)
            st = b.password_file.stat()
            assert (st.st_mode & 0o777, st.st_uid) == (0o600, ids.pw_uid)
        start_broker(b)
        try:
            yield b
        finally:
            assert b.proc is not None  # a test may have restarted it
            b.proc.terminate()
            b.proc.wait(timeout=30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Client:
    """A paho MQTT 5 client that records what it receives, its SUBACK codes and whether
    the broker dropped it.  ``session`` asks for a persistent session (clean start off,
    an hour's expiry); ``will`` is a retained QoS 1 last will."""

    def __init__(self, broker: ShippedBroker, user: str | None, password: str | None,
                 *, tls: bool = False, client_id: str | None = None, session: bool = False,
                 will: tuple[str, bytes] | None = None) -> None:  # fmt: skip
        self.received: list[tuple[str, bytes]] = []
        self.suback: list[ReasonCode] = []
        self.connack: ReasonCode | None = None
        self.connack_props: Properties | None = None
        self.session_present = False
        self.dropped = 0  # disconnections the client did not ask for
        self.done = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5, reconnect_on_failure=False,
        )  # fmt: skip
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set(ca_certs=str(broker.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, bytes(m.payload)))
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if session:
            props.SessionExpiryInterval = 3600
        self.closing = False
        self.client.connect("localhost" if tls else "127.0.0.1",
                            broker.tls_port if tls else broker.port, keepalive=30,
                            clean_start=not session, properties=props)  # fmt: skip
        self.client.loop_start()
        assert self.done.wait(10), "no CONNACK"
        self.done.clear()

    def _on_connect(self, c: mqtt.Client, u: object, flags: mqtt.ConnectFlags, rc: ReasonCode,
                    props: Properties | None) -> None:  # fmt: skip
        self.connack = rc
        self.connack_props = props
        self.session_present = flags.session_present
        self.done.set()

    def _on_disconnect(self, c: mqtt.Client, u: object, flags: object, rc: ReasonCode,
                       props: Properties | None) -> None:  # fmt: skip
        if not self.closing:
            self.dropped += 1

    def _on_subscribe(self, c: mqtt.Client, u: object, mid: int, codes: list[ReasonCode],
                      props: Properties | None) -> None:  # fmt: skip
        self.suback.extend(codes)
        self.done.set()

    @property
    def connected(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, topic: str) -> ReasonCode:
        self.done.clear()
        self.client.subscribe(topic, qos=1)
        assert self.done.wait(10), "no SUBACK"
        return self.suback[-1]

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()

    def close(self) -> None:
        self.closing = True
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(broker: ShippedBroker) -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for c in made:
        c.close()


def connect(broker: ShippedBroker, clients: list[Client], user: str | None,
            password: str | None = None, *, tls: bool = False, client_id: str | None = None,
            session: bool = False, will: tuple[str, bytes] | None = None) -> Client:  # fmt: skip
    if user is not None and password is None:
        password = broker.passwords[user]
    c = Client(broker, user, password, tls=tls, client_id=client_id, session=session, will=will)
    clients.append(c)
    return c


def settle(subscriber: Client, marker_from: Client, topic: str) -> None:
    """Publish a marker after everything else and wait for it: ordering proves absence."""
    marker = uuid.uuid4().bytes
    marker_from.publish(topic, marker)
    deadline = time.monotonic() + 10
    while (topic, marker) not in subscriber.received:
        assert time.monotonic() < deadline, "marker never arrived"
        time.sleep(0.02)


def test_devices_add_registers_the_device_and_a_mosquitto_hash(
    broker: ShippedBroker, db_url: str
) -> None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT kind, district, lat FROM devices WHERE id = 'cam-1'").fetchone()
    assert row == ("camera", "leninsky", 54.51)
    lines = broker.password_file.read_text().splitlines()
    assert sorted(line.split(":")[0] for line in lines) == [
        "cam-1",
        CONSOLE,
        INGEST,
        INGEST_2,
        "eco-2",
    ]
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in lines)
    assert len(broker.passwords["cam-1"]) >= 24


def test_a_device_writes_only_its_own_topics(broker: ShippedBroker, clients: list[Client]) -> None:
    ingest = connect(broker, clients, INGEST)
    assert ingest.subscribe("$share/citypulse/city/+/+/+/telemetry").value < 0x80
    assert ingest.subscribe("city/+/+/+/status").value < 0x80
    cam = connect(broker, clients, "cam-1")
    eco = connect(broker, clients, "eco-2")
    cam.publish("city/leninsky/camera/cam-1/telemetry", b"own")
    cam.publish("city/leninsky/camera/cam-1/status", b'{"online": true}')
    cam.publish("city/leninsky/ecology/eco-2/telemetry", b"forged")
    cam.publish("city/leninsky/camera/cam-1/telemetry/extra", b"deeper")
    cam.publish("city/leninsky/camera/cam-1", b"shallower")
    settle(ingest, eco, "city/leninsky/ecology/eco-2/telemetry")
    payloads = [p for _, p in ingest.received]
    assert b"own" in payloads
    assert b'{"online": true}' in payloads
    assert b"forged" not in payloads
    assert b"deeper" not in payloads
    assert b"shallower" not in payloads


def test_a_device_cannot_read_the_city_stream(broker: ShippedBroker, clients: list[Client]) -> None:
    spy = connect(broker, clients, "eco-2")
    for topic in ["city/#", "$share/citypulse/city/+/+/+/telemetry", "city/+/+/cam-1/telemetry",
                  "city/leninsky/ecology/eco-2/telemetry", "#"]:  # fmt: skip
        spy.subscribe(topic)
    cam = connect(broker, clients, "cam-1")
    ingest = connect(broker, clients, INGEST)
    ingest.subscribe("city/#")
    cam.publish("city/leninsky/camera/cam-1/telemetry", b"secret")
    settle(ingest, cam, "city/leninsky/camera/cam-1/telemetry")
    # Mosquitto grants the SUBACK (an ACL-refused subscription is answered 0x87 only in
    # newer versions) but must never deliver a message the login may not read.
    assert spy.received == []
    assert all(code.value in (0, 1, 0x87) for code in spy.suback)


def test_the_console_reads_devices_status_only(
    broker: ShippedBroker, clients: list[Client]
) -> None:
    console = connect(broker, clients, CONSOLE)
    console.subscribe("city/#")
    ingest = connect(broker, clients, INGEST)
    ingest.subscribe("city/#")
    cam = connect(broker, clients, "cam-1")
    cam.publish("city/leninsky/camera/cam-1/telemetry", b"reading")
    cam.publish("city/leninsky/camera/cam-1/status", b'{"online": true}')
    console.publish("city/leninsky/camera/cam-1/status", b'{"online": false}')  # forged
    settle(console, cam, "city/leninsky/camera/cam-1/status")
    settle(ingest, cam, "city/leninsky/camera/cam-1/status")
    assert {t for t, _ in console.received} == {"city/leninsky/camera/cam-1/status"}
    assert b'{"online": true}' in [p for _, p in console.received]
    assert b'{"online": false}' not in [p for _, p in ingest.received]


def test_wrong_password_and_anonymous_are_refused(
    broker: ShippedBroker, clients: list[Client]
) -> None:
    assert not connect(broker, clients, "cam-1", "not-the-password").connected
    assert not connect(broker, clients, "nobody", "whatever").connected
    assert not connect(broker, clients, None).connected
    assert connect(broker, clients, "cam-1").connected


def test_tls_listener_with_the_ca_file(broker: ShippedBroker, clients: list[Client]) -> None:
    ingest = connect(broker, clients, INGEST)
    ingest.subscribe("city/#")
    cam = connect(broker, clients, "cam-1", tls=True)
    assert cam.connected
    cam.publish("city/leninsky/camera/cam-1/telemetry", b"over tls")
    settle(ingest, cam, "city/leninsky/camera/cam-1/telemetry")
    assert ("city/leninsky/camera/cam-1/telemetry", b"over tls") in ingest.received
    untrusting = ssl.create_default_context()  # does not know the self-signed CA
    with (
        socket.create_connection(("127.0.0.1", broker.tls_port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusting.wrap_socket(raw, server_hostname="localhost")


def test_the_compose_health_check_tells_up_from_down(broker: ShippedBroker) -> None:
    import yaml

    compose = yaml.safe_load((SHIPPED.parents[1] / "docker-compose.yml").read_text())
    kind, command = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    assert " -p 1883 " in command

    def check(port: int) -> int:
        cmd = command.replace(" -p 1883 ", f" -p {port} ").replace("$$", "$")
        return subprocess.run(["sh", "-c", cmd], timeout=30).returncode

    assert check(broker.port) == 0
    assert check(free_port()) != 0


def test_limits_fit_a_whole_ingest_batch(broker: ShippedBroker, clients: list[Client]) -> None:
    props = connect(broker, clients, INGEST).connack_props
    assert props is not None
    values: dict[str, int] = props.json()  # type: ignore[no-untyped-call]
    assert values["ReceiveMaximum"] >= 5000  # ingest --batch-size: acks wait for the commit
    assert values["MaximumPacketSize"] >= 256 * 1024 + 1024  # wire contract: 256 KiB payloads


def test_a_device_added_while_running_connects_after_sighup(
    broker: ShippedBroker, clients: list[Client], capsys: pytest.CaptureFixture[str]
) -> None:
    owner = ["--broker-user", "mosquitto"] if os.geteuid() == 0 else []
    password = add_login(
        ["--database-url", broker.db_url, "devices", "add", "pk-3", "--kind", "parking",
         "--district", "moskovsky", "--password-file", str(broker.password_file), *owner],
        None, capsys,
    )  # fmt: skip
    assert not connect(broker, clients, "pk-3", password).connected  # not loaded yet
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGHUP)  # what `docker compose kill -s SIGHUP` sends
    deadline = time.monotonic() + 10
    while not connect(broker, clients, "pk-3", password).connected:
        assert time.monotonic() < deadline, "the broker did not load the new login"
        time.sleep(0.2)
    assert connect(broker, clients, "cam-1").connected  # existing logins still work


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


ECO_STATUS = "city/leninsky/ecology/eco-2/status"
WILL = b'{"online": false, "reason": "will"}'


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_device_cannot_take_over_another_devices_client_id(
    broker: ShippedBroker, clients: list[Client], tls: bool
) -> None:
    """cam-1's login with eco-2's client id must neither drop eco-2 nor fire its will."""
    ingest = connect(broker, clients, INGEST)
    ingest.subscribe("city/+/+/+/status")
    eco = connect(broker, clients, "eco-2", client_id="eco-2", will=(ECO_STATUS, WILL))
    thief = connect(broker, clients, "cam-1", client_id="eco-2", tls=tls)
    assert thief.connected  # under its own id: the broker ignores the one it asked for
    time.sleep(0.5)  # a takeover drops eco-2 at once
    assert eco.dropped == 0
    assert eco.client.is_connected()
    settle(ingest, eco, ECO_STATUS)  # eco-2 still publishes on its first connection
    assert (ECO_STATUS, WILL) not in ingest.received


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_device_cannot_wipe_ingests_persistent_session(
    broker: ShippedBroker, clients: list[Client], tls: bool
) -> None:
    """A clean start under ingest's client id must not end the session holding its queue."""
    ingest = connect(broker, clients, INGEST, client_id=INGEST_ID, session=True)
    ingest.subscribe("$share/citypulse/city/+/+/+/telemetry")
    ingest.close()  # ingest is down; the broker queues for its session
    cam = connect(broker, clients, "cam-1")
    sent = [f"queued {i}".encode() for i in range(5)]
    for payload in sent:
        cam.publish("city/leninsky/camera/cam-1/telemetry", payload)
    cam.close()
    thief = connect(broker, clients, "cam-1", client_id=INGEST_ID, tls=tls)  # clean start
    assert thief.connected
    thief.close()
    back = connect(broker, clients, INGEST, client_id=INGEST_ID, session=True)
    assert back.session_present
    wait_for(
        "the queued readings never arrived",
        lambda: sorted(p for _, p in back.received) == sorted(sent),
    )


def test_ingest_workers_have_a_session_each_and_may_take_over_a_peers(
    broker: ShippedBroker, clients: list[Client]
) -> None:
    """Two workers share the stream on their own logins without dropping each other; with
    the password they share, one may connect as its dead peer and drain its session."""
    shared = "$share/citypulse/city/+/+/+/telemetry"
    first = connect(broker, clients, INGEST, session=True)
    second = connect(broker, clients, INGEST_2, session=True)
    for worker in (first, second):
        worker.subscribe(shared)
    second.close()  # ingest-2 dies; the broker keeps dealing it messages
    cam = connect(broker, clients, "cam-1")
    sent = [f"reading {i}".encode() for i in range(6)]
    for payload in sent:
        cam.publish("city/leninsky/camera/cam-1/telemetry", payload)
    assert first.dropped == 0
    heir = connect(broker, clients, INGEST_2, session=True)  # ingest-1, as its peer
    assert heir.session_present
    wait_for(
        "the dead peer's share never arrived",
        lambda: sorted(p for _, p in first.received + heir.received) == sorted(sent),
    )


@pytest.mark.faults
def test_a_broker_killed_with_sigkill_keeps_every_message_it_acknowledged(
    broker: ShippedBroker, clients: list[Client]
) -> None:
    """With the shipped autosave setting (a save after every change), readings the broker
    acknowledged (PUBACK to the device) while ingest was away are in its persistence file
    before a SIGKILL; the timed autosave shipped before loses them (the second half)."""
    conf = broker.dir / "mosquitto.conf"
    shipped = conf.read_text()
    assert f"\n{DURABLE}" in shipped
    assert _acknowledged_then_killed(broker, clients) == 0
    conf.write_text(shipped.replace(f"\n{DURABLE}", f"\n{TIMED}"))
    restart_broker(broker, signal.SIGTERM)
    assert _acknowledged_then_killed(broker, clients) == 20


#: The shipped setting: a broker that loses no acknowledged, queued message.
DURABLE = "autosave_on_changes true\nautosave_interval 1\n"
#: The setting shipped before: a save every 60 s.
TIMED = "autosave_interval 60\n"


def _acknowledged_then_killed(broker: ShippedBroker, clients: list[Client]) -> int:
    """How many of 20 readings, acknowledged while ingest was away, a SIGKILL loses."""
    ingest = connect(broker, clients, INGEST, session=True)
    shared = "$share/citypulse/city/+/+/+/telemetry"
    ingest.subscribe(shared)
    ingest.close()  # ingest is down; the broker queues for its session
    restart_broker(broker, signal.SIGTERM)  # a broker that has saved the session long ago
    # Mosquitto 2.0.11 does not persist shared subscriptions (2.0.20 does): ingest
    # subscribes again on every connection, so its session has one before it goes away.
    again = connect(broker, clients, INGEST, session=True)
    assert again.session_present
    again.subscribe(shared)
    again.close()
    cam = connect(broker, clients, "cam-1")
    topic = "city/leninsky/camera/cam-1/telemetry"
    # Payloads unique to this call: the previous call's subscriber may disconnect before
    # its last PUBACKs go out, and the broker then rightly delivers those again.
    tag = uuid.uuid4().hex
    sent = [f"acknowledged {i} {tag}".encode() for i in range(20)]
    for payload in sent:
        cam.publish(topic, payload)  # returns once the broker has acknowledged it
    # Mosquitto acknowledges a message before it saves it, at the end of the same turn
    # of its (single-threaded) loop; another device's CONNACK comes a turn later.
    connect(broker, clients, "eco-2")
    restart_broker(broker, signal.SIGKILL)
    back = connect(broker, clients, INGEST, session=True)
    assert back.session_present
    back.subscribe(shared)  # as ingest does on every connection
    settle(back, connect(broker, clients, "cam-1"), topic)  # ordering proves absence
    stored = [p for _, p in back.received if p in sent]
    back.close()
    return len(sent) - len(stored)
