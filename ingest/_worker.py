"""The ingest worker: MQTT in, PostgreSQL out, acknowledgements only after commit.

Threads (paho is thread-based, and psycopg's synchronous COPY is its fastest path):

- paho's network thread (:class:`~ingest._mqtt.FastClient`, paho with a buffered reader)
  decodes each message and appends it to the pending list;
- ``flushers`` threads (each with its own connection, so PostgreSQL works on two batches
  at once) take a batch at ``batch_size`` messages, ``batch_rows`` readings or
  ``batch_age`` seconds, whichever comes first, store it in one transaction, then
  acknowledge every message of the batch to the broker;
- the housekeeper writes counters to ``ingest_stats`` and runs the schema upkeep.

Backpressure: the broker sends at most ``receive_maximum`` unacknowledged messages (MQTT
5; Mosquitto 2.0.11 does not honour it), and when ``max_pending`` messages (or
``max_pending_rows`` readings) wait, the network thread stops reading the socket until a
flusher takes a batch, while it goes on sending pings and acknowledgements
(:meth:`FastClient.hold`).  So what a worker holds is bounded in readings by its own
means (``max_pending_rows``, plus the flushers' batches, plus one socket read) when the
database is down, however many readings a message carries, and the connection survives
an outage of any length; nothing unacknowledged is lost, because the session is
persistent (clean_start false, session expiry) and the broker redelivers.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from citypulse import MqttUrl
from ingest._decode import Decoder
from ingest._errors import PermanentStoreError, TransientStoreError
from ingest._limit import RateLimiter
from ingest._mqtt import FastClient
from ingest._outage import OutageLog
from ingest._sink import Item, PostgresSink
from ingest._stats import Counters

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Everything one ingest worker needs; built by the CLI from Settings and flags."""

    database_url: str = field(repr=False)
    mqtt: MqttUrl
    client_id: str
    worker_id: str
    share_group: str = "citypulse"
    topic_root: str = "city"
    mqtt_ca_file: str | None = None
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    unknown_devices: Literal["register", "reject"] = "register"
    retention: timedelta = timedelta(days=365)
    batch_size: int = 5_000  # messages
    batch_rows: int = 10_000  # readings: a batch of 50-reading messages closes sooner
    batch_age: float = 0.1
    flushers: int = 2
    receive_maximum: int = 20_000
    max_pending: int = 40_000  # messages
    max_pending_rows: int = 200_000  # readings
    session_expiry: int = 7 * 86_400
    keepalive: int = 30
    stats_interval: float = 5.0
    maintain_interval: float = 10.0
    retry_cap: float = 10.0
    rate_limit: float | None = 50.0  # readings/s per device; None: no limit
    rate_burst: float = 5_000.0  # readings a device may send at once (a buffered backlog)
    statement_timeout: float = 30.0  # s, for each statement of a batch
    shutdown_timeout: float = 30.0
    outage_report_interval: float = 30.0  # s between log lines while the database is away

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= self.max_pending:
            raise ValueError("batch_size must be between 1 and max_pending")
        if not 1 <= self.batch_rows <= self.max_pending_rows:
            raise ValueError("batch_rows must be between 1 and max_pending_rows")
        if not 1 <= self.receive_maximum <= 65_535:
            raise ValueError("receive_maximum must be 1..65535")
        if self.batch_age <= 0:
            raise ValueError("batch_age must be positive")
        if not 1 <= self.flushers <= 16:
            raise ValueError("flushers must be 1..16")
        if not self.outage_report_interval > 0:
            raise ValueError("outage_report_interval must be positive")

    @property
    def subscriptions(self) -> tuple[str, ...]:
        base = f"{self.topic_root}/+/+/+"
        prefix = f"$share/{self.share_group}/" if self.share_group else ""
        return (f"{prefix}{base}/telemetry", f"{prefix}{base}/status")


def _ack(client: FastClient, batch: list[Item]) -> None:
    """Acknowledge a committed batch: its QoS 1 PUBACKs in one write."""
    client.ack_many([item.mid for item in batch if item.qos == 1])
    for item in batch:
        if item.qos == 2:  # pragma: no cover - subscriptions ask for QoS 1 at most
            client.ack(item.mid, 2)


class IngestWorker:
    """One ingest worker; ``with IngestWorker(config) as w: w.wait(stop_event)``."""

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.counters = Counters()
        self._decoder = Decoder(root=config.topic_root, retention=config.retention)
        self._limiter = (
            RateLimiter(rate=config.rate_limit, burst=config.rate_burst)
            if config.rate_limit is not None
            else None
        )
        self._sinks = [
            PostgresSink(
                database_url=config.database_url,
                worker_id=config.worker_id,
                unknown_devices=config.unknown_devices,
                statement_timeout_ms=round(config.statement_timeout * 1000),
            )
            for _ in range(config.flushers)
        ]
        self._flushing = 0
        self._pending: list[Item] = []
        self._pending_rows = 0  # the weight (readings, at least one) of what is in _pending
        self._held = (0, 0)  # messages and readings in the flushers' hands, not yet acked
        self._outage = OutageLog(pending=self._unacknowledged, every=config.outage_report_interval)
        self._tick = 0.0
        self._received_at = datetime.fromtimestamp(0, UTC)
        self._first_at = 0.0
        self._cond = threading.Condition()
        self._accepting = False
        self._stopping = threading.Event()
        self._flusher_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._protocol = mqtt.MQTTv311 if config.protocol == "3.1.1" else mqtt.MQTTv5
        self._connected = threading.Event()
        self._client = self._new_client()
        self.fatal: BaseException | None = None

    # --- MQTT ---------------------------------------------------------------------------
    def _new_client(self) -> FastClient:
        cfg = self.config
        client = FastClient(
            client_id=cfg.client_id,
            protocol=self._protocol,
            clean_session=None if self._protocol == mqtt.MQTTv5 else False,
            on_publish=self._on_publish,
            on_retry=self._on_retry,
        )
        if cfg.mqtt.username:
            client.username_pw_set(cfg.mqtt.username, cfg.mqtt.password.value or None)
        if cfg.mqtt.tls:
            client.tls_set(ca_certs=cfg.mqtt_ca_file)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        return client

    def _connect(self) -> None:
        cfg = self.config
        props = None
        if self._protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = cfg.session_expiry
            props.ReceiveMaximum = cfg.receive_maximum
        self._client.connect_async(
            cfg.mqtt.host,
            cfg.mqtt.port,
            keepalive=cfg.keepalive,
            clean_start=False
            if self._protocol == mqtt.MQTTv5
            else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            if (
                reason.value in (1, 132)
                and self._protocol == mqtt.MQTTv5
                and self.config.protocol == "auto"
            ):
                log.warning("broker refused MQTT 5 (%s); falling back to MQTT 3.1.1", reason)
                self._protocol = mqtt.MQTTv311
                threading.Thread(target=self._reconnect_as_311, name="mqtt-fallback").start()
                return
            log.error("MQTT connection refused by %s: %s", self.config.mqtt.url(), reason)
            return
        log.info(
            "connected to %s (session present: %s)", self.config.mqtt.url(), flags.session_present
        )
        client.subscribe([(topic, 1) for topic in self.config.subscriptions])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("subscription refused by the broker: %s", ", ".join(map(str, failed)))
            return
        log.info("subscribed: %s", ", ".join(self.config.subscriptions))
        self._connected.set()

    def _reconnect_as_311(self) -> None:
        self._client.loop_stop()
        self._client = self._new_client()
        self._connect()
        self._client.loop_start()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); paho reconnects", reason)

    def _on_retry(self, delay: float, error: OSError | None) -> None:
        """paho is about to wait ``delay`` s before its next connection attempt; ``error``
        is why the last attempt failed (None: a connection was lost or refused)."""
        if self._stopping.is_set():
            return
        at = (datetime.now() + timedelta(seconds=delay)).strftime("%H:%M:%S")
        url = self.config.mqtt.url()
        if error is not None:
            log.warning("cannot connect to %s: %s; retrying in %g s at %s", url, error, delay, at)
        else:
            log.info("reconnecting to %s in %g s at %s", url, delay, at)

    def _on_publish(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        if not self._accepting:
            return  # not acknowledged: the broker redelivers after we reconnect
        now = time.time()
        if now - self._tick >= 0.001:  # one clock reading per millisecond is precise enough
            self._tick = now
            self._received_at = datetime.fromtimestamp(now, UTC)
        received_at = self._received_at
        decoded = self._decoder.decode(topic, payload, received_at)
        if self._limiter is not None:
            decoded = self._limiter.check(decoded, time.monotonic())
        item = Item(mid, qos, topic, payload, received_at, decoded)
        cfg = self.config
        with self._cond:
            pending = self._pending
            if not pending:
                self._first_at = time.monotonic()
            pending.append(item)
            rows = self._pending_rows = self._pending_rows + decoded.weight
            size = len(pending)
            if size >= cfg.batch_size or rows >= cfg.batch_rows:
                self._cond.notify_all()
            if (size >= cfg.max_pending or rows >= cfg.max_pending_rows) and not self._client.held:
                # Full: stop reading the socket (never wait here: this is paho's network
                # thread, which must go on sending pings and acknowledgements).
                self.counters.backpressure_waits += 1
                self._client.hold()

    # --- flushing -------------------------------------------------------------------------
    def _take_batch(self) -> list[Item]:
        cfg = self.config
        with self._cond:
            while True:
                size = len(self._pending)
                if size >= cfg.batch_size or self._pending_rows >= cfg.batch_rows:
                    break
                if size and time.monotonic() - self._first_at >= cfg.batch_age:
                    break
                if self._stopping.is_set() and not self._accepting:
                    break
                timeout = (
                    cfg.batch_age
                    if not size
                    else max(0.001, cfg.batch_age - (time.monotonic() - self._first_at))
                )
                self._cond.wait(timeout)
            cut = rows = 0
            for item in self._pending[: cfg.batch_size]:
                rows += item.decoded.weight
                cut += 1
                if rows >= cfg.batch_rows:
                    break
            batch = self._pending[:cut]
            del self._pending[:cut]
            self._pending_rows -= rows
            self._held = (self._held[0] + cut, self._held[1] + rows)
            if self._pending:
                self._first_at = time.monotonic()
            if (
                self._client.held
                and len(self._pending) < cfg.max_pending
                and self._pending_rows < cfg.max_pending_rows
            ):
                self._client.resume()
            self._cond.notify_all()
            return batch

    def _flush_loop(self, sink: PostgresSink) -> None:
        try:
            while True:
                batch = self._take_batch()
                if not batch:
                    if self._stopping.is_set():
                        return
                    continue
                stored = self._store_with_retry(sink, batch)
                if stored:
                    _ack(self._client, batch)
                with self._cond:
                    rows = sum(item.decoded.weight for item in batch)
                    self._held = (self._held[0] - len(batch), self._held[1] - rows)
                if not stored:
                    return  # shutting down with the database still away: not acked
        except BaseException as exc:
            self.fatal = exc
            log.exception("ingest flusher stopped")
            self._stopping.set()
        finally:
            with self._cond:
                self._flushing -= 1
                if self._flushing == 0 or self.fatal is not None:
                    self._flusher_done.set()

    def _store_with_retry(self, sink: PostgresSink, batch: list[Item]) -> bool:
        attempt = 0
        deadline: float | None = None
        while True:
            started = time.monotonic()
            try:
                result = sink.store(batch)
            except TransientStoreError as exc:
                attempt += 1
                self.counters.store_retries += 1
                delay = random.uniform(0, min(self.config.retry_cap, 0.1 * 2 ** min(attempt, 10)))
                # A statement timeout is this batch's (a lock, an overloaded server): an
                # error each time.  A lost database is everyone's: the outage log says it.
                log.log(
                    logging.ERROR if exc.timed_out else logging.DEBUG,
                    "storing %d messages failed, not acknowledged (attempt %d, retry in %.2fs): %s",
                    len(batch),
                    attempt,
                    delay,
                    exc,
                )
                if not exc.timed_out:
                    self._outage.failed(exc)
                if self._stopping.is_set():
                    deadline = deadline or time.monotonic() + self.config.shutdown_timeout / 2
                    if time.monotonic() + delay > deadline:
                        log.error(
                            "giving up on %d unacknowledged messages at shutdown; "
                            "the broker keeps them for the next start",
                            len(batch),
                        )
                        return False
                time.sleep(delay)
                continue
            except PermanentStoreError:
                raise
            committed = datetime.now(UTC)
            self._outage.succeeded()
            self.counters.record_batch(batch, result, time.monotonic() - started, committed)
            return True

    def _unacknowledged(self) -> tuple[int, int]:
        """Messages and readings received and not yet acknowledged (a snapshot)."""
        held = self._held
        return len(self._pending) + held[0], self._pending_rows + held[1]

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> IngestWorker:
        for sink in self._sinks:
            sink.__enter__()
        from ingest._stats import Housekeeper

        self._housekeeper = Housekeeper(
            database_url=self.config.database_url,
            worker_id=self.config.worker_id,
            counters=self.counters,
            pending=lambda: len(self._pending),
            stats_interval=self.config.stats_interval,
            maintain_interval=self.config.maintain_interval,
            stopping=self._stopping,
            outage=self._outage,
        )
        self._accepting = True
        self._flushing = len(self._sinks)
        self._threads = [
            threading.Thread(
                target=self._flush_loop, args=(sink,), name=f"ingest-flusher-{i}", daemon=True
            )
            for i, sink in enumerate(self._sinks)
        ]
        self._threads.append(
            threading.Thread(target=self._housekeeper.run, name="ingest-housekeeper", daemon=True)
        )
        for t in self._threads:
            t.start()
        self._connect()
        self._client.loop_start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected and subscribed (the broker acknowledged the subscriptions)."""
        return self._connected.wait(timeout)

    def wait_total(
        self,
        counter: Literal["received", "stored"],
        at_least: int,
        timeout: float,
        *,
        poll: float = 0.05,
    ) -> bool:
        """Wait until ``counter`` reaches ``at_least``: ``received`` counts messages
        committed and acknowledged, ``stored`` readings.  False on timeout, or at once
        when the worker has failed."""
        deadline = time.monotonic() + timeout
        while self.counters.totals()[counter] < at_least:
            if self.fatal is not None or time.monotonic() >= deadline:
                return False
            time.sleep(poll)
        return True

    def wait(self, stop: threading.Event) -> None:
        """Block until ``stop`` is set or the worker fails."""
        while not stop.wait(0.5):
            if self.fatal is not None or self._flusher_done.is_set():
                break

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop intake, flush and commit, acknowledge, disconnect; within the timeout."""
        log.info("ingest shutting down: flushing %d pending messages", len(self._pending))
        self._accepting = False
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._flusher_done.wait(self.config.shutdown_timeout)
        deadline = time.monotonic() + 2.0
        while self._client.want_write() and time.monotonic() < deadline:
            time.sleep(0.01)  # let the network thread send the last acknowledgements
        self._client.disconnect()
        self._client.loop_stop()
        for t in self._threads:
            t.join(timeout=5)
        self._housekeeper.flush()
        self._housekeeper.close()
        for sink in self._sinks:
            sink.close()
        log.info("ingest stopped: %s", self.counters.totals())
