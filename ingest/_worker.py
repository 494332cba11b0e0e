"""The ingest worker: MQTT in, PostgreSQL out, acknowledgements only after commit.

Threads (paho is thread-based, and psycopg's synchronous COPY is its fastest path):

- paho's network thread (:class:`~ingest._mqtt.FastClient`, paho with a buffered reader)
  decodes the messages of each socket read and appends them to the pending list, under
  one lock per read;
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

import gc
import logging
import random
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest._config import IngestConfig
from ingest._decode import Decoder
from ingest._errors import PermanentStoreError, TransientStoreError
from ingest._limit import RateLimiter
from ingest._mqtt import FastClient, Message
from ingest._outage import OutageLog
from ingest._peers import Peers
from ingest._progress import Progress
from ingest._sink import Item, PostgresSink
from ingest._stats import Counters

log = logging.getLogger(__name__)

#: The cyclic garbage collector's thresholds while a worker runs.  A worker holds tens of
#: thousands of decoded messages in hand (pending, and in the flushers' batches), each a
#: few tuples, and CPython's defaults (700, 10, 10) made the collector scan them again and
#: again: a quarter of ingest's CPU per single-reading message (``citypulse bench
#: ingest``'s (b) drain: 7.0 µs of CPU per message with the defaults, 5.2 with these).
#: Ingest makes next to no reference cycles, so they wait a little longer, nothing more.
GC_THRESHOLDS: Final = (50_000, 50, 100)


class _Collector:
    """Holds :data:`GC_THRESHOLDS` while any worker in the process runs, and puts back
    the thresholds there were once the last one stops."""

    _lock = threading.Lock()
    _running = 0
    _saved: tuple[int, int, int] = (700, 10, 10)

    @classmethod
    def acquire(cls) -> None:
        with cls._lock:
            if cls._running == 0:
                cls._saved = gc.get_threshold()
                gc.set_threshold(*GC_THRESHOLDS)
            cls._running += 1

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            cls._running -= 1
            if cls._running == 0:
                gc.set_threshold(*cls._saved)


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
        self._tick = time.time()
        self._received_at = datetime.fromtimestamp(self._tick, UTC)
        # receipt times still in hand (see committed_through): the socket read being
        # decoded, and each flusher's batch by id
        self._arriving: float | None = None
        self._inflight: dict[int, float] = {}
        self._first_at = 0.0
        self._cond = threading.Condition()
        self._accepting = False
        self._stopping = threading.Event()
        self._flusher_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._protocol = mqtt.MQTTv311 if config.protocol == "3.1.1" else mqtt.MQTTv5
        self._connected = threading.Event()
        self._unsubscribing = False  # leaving the share group (or draining a session)
        self._unsubscribed = threading.Event()
        self._aborted = threading.Event()  # a drained session was taken back
        self._last_message = 0.0  # time.time() of the last message received
        self._shut = False
        self._collecting = False  # holds the collector's thresholds (_Collector)
        self._peers: Peers | None = None
        self._progress = Progress(
            database_url=config.database_url,
            client_id=config.client_id,
            worker_id=config.worker_id,
            through=self.committed_through,
            interval=config.progress_interval,
        )
        self._client = self._new_client()
        self.fatal: BaseException | None = None

    # --- MQTT ---------------------------------------------------------------------------
    def _new_client(self) -> FastClient:
        cfg = self.config
        client = FastClient(
            client_id=cfg.client_id,
            protocol=self._protocol,
            clean_session=None if self._protocol == mqtt.MQTTv5 else False,
            on_publish_many=self._on_publish,
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
        client.on_unsubscribe = self._on_unsubscribe
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
            "connected to %s as %s (session present: %s)",
            self.config.mqtt.url(),
            self.config.client_id,
            flags.session_present,
        )
        if self.config.drain and not flags.session_present:
            log.info("no session left under %s: nothing to drain", self.config.client_id)
            self._unsubscribed.set()
            self._connected.set()
        elif self.config.drain or self._unsubscribing:
            self._unsubscribing = True
            client.unsubscribe(list(self.config.subscriptions))
        else:
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

    def _on_unsubscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        log.info(
            "unsubscribed (%s): no new messages for session %s; storing what it holds",
            ", ".join(map(str, reasons)) or "MQTT 3.1.1",
            self.config.client_id,
        )
        self._unsubscribed.set()
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
        if self._stopping.is_set():
            return
        if self.config.drain:
            log.warning(
                "disconnected while draining session %s (%s): left to its owner or a later "
                "takeover",
                self.config.client_id,
                reason,
            )
            self._aborted.set()
            return
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

    def _on_publish(self, messages: list[Message]) -> None:
        """The messages of one socket read: decoded, then queued under one lock."""
        if not self._accepting:
            return  # not acknowledged: the broker redelivers after we reconnect
        # In hand from here (committed_through): no receipt time below the last one.
        self._arriving = self._tick
        now = time.time()
        self._last_message = now
        if now - self._tick >= 0.001:  # one clock reading per millisecond is precise enough
            self._tick = now
            self._received_at = datetime.fromtimestamp(now, UTC)
        received_at = self._received_at
        decode = self._decoder.decode
        limiter = self._limiter
        at = time.monotonic()
        items: list[Item] = []
        new = tuple.__new__
        weight = 0
        for topic, payload, mid, qos in messages:
            decoded = decode(topic, payload, received_at)
            if limiter is not None:
                decoded = limiter.check(decoded, at)
            # tuple.__new__: a named tuple's own __new__ would cost twice as much
            items.append(new(Item, (mid, qos, topic, payload, received_at, decoded)))
            weight += len(decoded.rows) or 1  # Decoded.weight
        cfg = self.config
        with self._cond:
            pending = self._pending
            if not pending:
                self._first_at = time.monotonic()
            pending.extend(items)
            self._arriving = None
            rows = self._pending_rows = self._pending_rows + weight
            size = len(pending)
            if size >= cfg.batch_size or rows >= cfg.batch_rows:
                self._cond.notify_all()
            if (size >= cfg.max_pending or rows >= cfg.max_pending_rows) and not self._client.held:
                # Full: stop reading the socket (never wait here: this is paho's network
                # thread, which must go on sending pings and acknowledgements).
                self.counters.backpressure_waits += 1
                self._client.hold()

    # --- flushing -------------------------------------------------------------------------
    def _take_batch(self) -> tuple[list[Item], int]:
        """The next batch and its readings (its messages' weights), once it is due."""
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
            if self._pending_rows == size:  # every message one reading (a weight is >= 1)
                cut = rows = min(size, cfg.batch_size, cfg.batch_rows)
            else:
                cut = rows = 0
                for item in self._pending[: cfg.batch_size]:
                    rows += len(item.decoded.rows) or 1  # Decoded.weight
                    cut += 1
                    if rows >= cfg.batch_rows:
                        break
            batch = self._pending[:cut]
            del self._pending[:cut]
            if batch:
                self._inflight[id(batch)] = batch[0].received_at.timestamp()
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
            return batch, rows

    def _flush_loop(self, sink: PostgresSink) -> None:
        try:
            while True:
                batch, rows = self._take_batch()
                if not batch:
                    if self._stopping.is_set():
                        return
                    continue
                stored = self._store_with_retry(sink, batch)
                if stored:
                    _ack(self._client, batch)
                with self._cond:
                    self._held = (self._held[0] - len(batch), self._held[1] - rows)
                    del self._inflight[id(batch)]
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

    def committed_through(self) -> float:
        """A receipt time (epoch s) before which every message this worker received is
        committed: the oldest still in hand (being decoded, pending, in a flusher's
        batch), else the present.  Receipt times never fall (a clock stepped back keeps
        the last), and one socket read's messages share one, set after ``_arriving``: so
        nothing received later, nor anything in hand, is older.  The present less 10 ms:
        a read may reuse a receipt time up to 1 ms old."""
        with self._cond:
            oldest = time.time() - 0.01
            arriving = self._arriving
            if arriving is not None:
                oldest = min(oldest, arriving)
            if self._pending:
                oldest = min(oldest, self._pending[0].received_at.timestamp())
            if self._inflight:
                oldest = min(oldest, *self._inflight.values())
        return oldest

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
        self._progress.start()
        cfg = self.config
        if cfg.takeover_after is not None and not cfg.drain:
            self._peers = Peers(
                database_url=cfg.database_url,
                client_id=cfg.client_id,
                login=cfg.mqtt.username or "",
                worker_id=cfg.worker_id,
                share_group=cfg.group_key,
                interval=cfg.heartbeat_interval,
                takeover_after=cfg.takeover_after,
                drain=self._drain_peer,
            )
            self._peers.start()
        self._connect()
        self._client.loop_start()
        _Collector.acquire()
        self._collecting = True
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

    # --- leaving the share group, draining a session -----------------------------------------
    def drain_session(self, *, timeout: float | None, stop: threading.Event | None = None) -> bool:
        """Unsubscribe (the broker stops dealing this session new messages), then store and
        acknowledge what the session holds until nothing is unacknowledged and nothing
        has come for ``drain_quiet`` s.  False on timeout, ``stop``, failure or a lost
        connection."""
        cfg = self.config
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._unsubscribing:
            self._unsubscribing = True
            self._unsubscribed.clear()
            self._client.unsubscribe(list(cfg.subscriptions))
        while True:
            if self.fatal is not None or self._aborted.is_set() or (stop and stop.is_set()):
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
            if (
                self._unsubscribed.is_set()
                and self._unacknowledged()[0] == 0
                and time.time() - self._last_message >= cfg.drain_quiet
                and not self._client.want_write()
            ):
                return True
            time.sleep(0.05)

    def _drain_peer(self, peer: str, login: str, stop: threading.Event) -> bool:
        """Take over ``peer``'s session (connect with its client id and login), drain it
        into the database and end it; see :mod:`ingest._peers`."""
        cfg = self.config
        drainer = IngestWorker(
            replace(
                cfg,
                client_id=peer,
                mqtt=replace(cfg.mqtt, username=login) if login else cfg.mqtt,
                worker_id=f"{cfg.worker_id}>{peer}",
                protocol="5",
                flushers=1,
                drain=True,
                takeover_after=None,
            )
        )
        done = False
        with drainer:
            if drainer.wait_connected(30):
                done = drainer.drain_session(timeout=None, stop=stop)
            drainer.shutdown(end_session=done)
        totals = drainer.counters.totals()
        log.info(
            "session %s: %d messages (%d readings) stored from it",
            peer,
            totals["received"],
            totals["stored"],
        )
        return done

    def _leave(self) -> bool:
        """Scaling down: leave the share group and drain, if another member is alive;
        True once the session is drained (and may end)."""
        if (
            self._peers is None
            or self._protocol != mqtt.MQTTv5
            or not self._connected.is_set()
            or not self._peers.leave()
        ):
            return False
        log.info(
            "ingest leaving share group %s: unsubscribing, then draining", self.config.share_group
        )
        drained = self.drain_session(timeout=self.config.shutdown_timeout / 2)
        if not drained:
            log.warning(
                "session %s not drained in time: it stays for a surviving worker to take over",
                self.config.client_id,
            )
        return drained

    # --- shutdown -------------------------------------------------------------------------
    def shutdown(self, *, end_session: bool = False) -> None:
        """Stop intake, flush and commit, acknowledge, disconnect; within the timeout.

        A worker with live peers leaves first (:meth:`_leave`) and ends its session;
        otherwise the session stays, subscribed, for its return.  ``end_session``: a
        drained session ends (a takeover)."""
        if self._shut:
            return
        self._shut = True
        if self._collecting:  # first: whatever fails below, the thresholds go back
            self._collecting = False
            _Collector.release()
        if self._peers is not None:
            self._peers.close()
            end_session = self._leave()
        log.info("ingest shutting down: flushing %d pending messages", len(self._pending))
        self._accepting = False
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._flusher_done.wait(self.config.shutdown_timeout)
        deadline = time.monotonic() + 2.0
        while self._client.want_write() and time.monotonic() < deadline:
            time.sleep(0.01)  # let the network thread send the last acknowledgements
        end_session = end_session and self._unacknowledged()[0] == 0
        if end_session and self._protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 0  # the broker drops the session at once
            self._client.disconnect(properties=props)
        else:
            self._client.disconnect()
        self._client.loop_stop()
        for t in self._threads:
            t.join(timeout=5)
        self._housekeeper.flush()
        self._housekeeper.close()
        self._progress.close()
        for sink in self._sinks:
            sink.close()
        if self._peers is not None:
            if end_session:
                self._peers.gone()
            else:
                self._peers.stopped()
        log.info(
            "ingest stopped (%s): %s",
            "session ended" if end_session else "session kept",
            self.counters.totals(),
        )
