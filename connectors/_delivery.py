"""The delivery worker: outbox entries out to their connectors, outcomes back in.

One long-lived httpx client (explicit timeouts), a small psycopg pool, and up to
``concurrency`` deliveries in flight.  Each round it fails entries past their deadline,
claims due ones (``SKIP LOCKED`` leases, so any number of workers may run), delivers
them and records the outcome:

- delivered: ``delivered_at``, HTTP status, the remote's id;
- transient (transport error, timeout, 408, 429, 5xx): retried after an exponential
  backoff with full jitter, never sooner than the remote's ``Retry-After``; a retry that
  would land past ``deliver_by`` fails the entry instead;
- permanent (other 4xx, unusable payload): ``failed_at`` with the error.

Failures are logged with the entry and appeal ids, counted, and visible in
``outbox.last_error`` and the ``outbox_failed`` view.  Connectors that are also a
:class:`StatusSource` are polled for the remote status of delivered appeals.

Use it as a context manager; ``start()`` runs the loop in a thread, ``close()`` stops
claiming, lets in-flight deliveries finish, then closes the client and the pool::

    with DeliveryWorker.from_settings(settings) as worker:
        worker.start()
        ...  # serve
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from types import TracebackType
from typing import Any, Self

import httpx
import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from appeals import record_remote_event
from citypulse import Settings
from connectors import _outbox
from connectors._connector import (
    Connector,
    DeliveryResult,
    RemoteStatus,
    RemoteStatusHandler,
    StatusSource,
)
from connectors._errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from connectors._http import new_client
from connectors._outbox import OutboxEntry
from connectors._registry import build_connectors

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits U(0, min(cap, base·2ⁿ⁻¹))."""

    base: float = 2.0
    cap: float = 300.0
    retry_after_cap: float = 3600.0  # a remote asking for longer is taken at this

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError("backoff needs 0 < base <= cap")

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds before the next attempt after failed attempt number ``attempt``."""
        ceiling = min(self.cap, self.base * 2.0 ** min(max(attempt - 1, 0), 62))
        delay = rng.uniform(0.0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_cap))
        return delay


@dataclass(frozen=True, slots=True)
class DeliveryCounters:
    """What one worker has done since it started."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0  # transient failures scheduled for another attempt
    failed_permanent: int = 0
    failed_deadline: int = 0
    lost_leases: int = 0  # outcomes not recorded because another worker took the entry
    status_checks: int = 0
    status_changes: int = 0
    errors: int = 0  # rounds or status checks that failed (database down, remote errors)


_COUNTER_NAMES = tuple(f.name for f in fields(DeliveryCounters))


def record_remote_status(
    conn: psycopg.Connection[Any],
    *,
    appeal_id: int,
    connector: str,
    previous: str | None,
    current: RemoteStatus,
) -> None:
    """Default handler: a remote 'closed' closes the appeal (and the sensor incident behind
    it, as an operator's close does); every change is an event.

    Open311 knows only ``open`` and ``closed``; ``status_notes`` become the event's note.
    """
    note = f"{connector}: {previous or '-'} → {current.status} ({current.remote_id})"
    if current.notes:
        note += f": {current.notes}"
    record_remote_event(
        conn,
        appeal_id,
        actor=f"connector:{connector}",
        note=note,
        closed=current.status == "closed",
    )


class DeliveryWorker:
    """Delivers outbox entries to connectors; see the module docstring."""

    def __init__(
        self,
        *,
        database_url: str,
        connectors: Sequence[Connector],
        worker_id: str = "delivery",
        timeout: float = 10.0,
        concurrency: int = 4,
        backoff: Backoff | None = None,
        lease: float | None = None,
        poll_interval: float = 1.0,
        sync_interval: float = 300.0,
        sync_batch: int = 50,
        client: httpx.Client | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_remote_status: RemoteStatusHandler = record_remote_status,
        shutdown_timeout: float = 60.0,
    ) -> None:
        names = [c.name for c in connectors]
        if len(set(names)) != len(names):
            raise ValueError(f"connector names must be unique, got {names}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if timeout <= 0 or poll_interval <= 0 or sync_interval <= 0:
            raise ValueError("timeout, poll_interval and sync_interval must be positive")
        self._database_url = database_url
        self._connectors = {c.name: c for c in connectors}
        self.worker_id = worker_id
        self._timeout = timeout
        self._concurrency = concurrency
        self._backoff = backoff or Backoff()
        # A claim must outlast the slowest delivery: a lookup and a POST, each timing out.
        self._lease = lease if lease is not None else 3 * timeout + 30.0
        self._poll_interval = poll_interval
        self._sync_interval = sync_interval
        self._sync_batch = sync_batch
        self._client = client
        self._owns_client = client is None
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self._on_remote_status = on_remote_status
        self._shutdown_timeout = shutdown_timeout
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by NOTIFY citypulse_outbox (and by close)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_COUNTER_NAMES, 0)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DeliveryWorker:
        """A worker for the connectors ``CITYPULSE_CONNECTORS`` names."""
        kwargs: dict[str, Any] = {
            "database_url": settings.database_url,
            "connectors": build_connectors(settings),
            "worker_id": settings.worker_id,
            "timeout": float(settings.delivery_timeout_s),
            "sync_interval": float(settings.status_sync_interval_s),
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    # -- lifetime ---------------------------------------------------------------------

    def open(self) -> None:
        """Open the pool, the HTTP client and the delivery threads."""
        if self._pool is not None:
            return
        pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = psycopg_pool.ConnectionPool(
            self._database_url,
            min_size=1,
            max_size=self._concurrency + 2,
            kwargs={"autocommit": True, "application_name": "citypulse-delivery"},
            open=False,
            name=f"delivery-{self.worker_id}",
            timeout=max(5.0, self._timeout),
        )
        pool.open(wait=False)
        self._pool = pool
        if self._client is None:
            self._client = new_client(self._timeout)
        self._executor = ThreadPoolExecutor(
            max_workers=self._concurrency, thread_name_prefix=f"deliver-{self.worker_id}"
        )
        self._stop.clear()
        self._wake.clear()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Run :meth:`run` in a background thread until :meth:`close`."""
        self.open()
        if self._thread is not None:
            # A programming error (start() called twice), not a failure: stays RuntimeError.
            raise RuntimeError("delivery worker already started")
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name=f"delivery-{self.worker_id}", daemon=True
        )
        self._thread.start()

    def _listen(self, done: threading.Event) -> None:
        """Wake the loop as soon as outbox entries are committed (the NOTIFY trigger)."""
        failures = 0
        while not done.is_set():
            try:
                with psycopg.connect(
                    self._database_url,
                    autocommit=True,
                    connect_timeout=max(1, round(self._timeout)),
                    application_name="citypulse-delivery-listen",
                ) as conn:
                    conn.execute("LISTEN citypulse_outbox")
                    failures = 0
                    self._wake.set()  # whatever was committed while nobody listened
                    while not done.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._wake.set()
            except psycopg.Error as exc:
                failures += 1
                delay = self._backoff.delay(failures, None, self._rng)
                log.info(
                    "delivery %s: LISTEN lost (%s); polling, retry in %.1fs",
                    self.worker_id,
                    exc,
                    delay,
                )
                done.wait(delay)

    def close(self) -> None:
        """Stop claiming, let in-flight deliveries finish, close the client and the pool."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self._shutdown_timeout)
            if self._thread.is_alive():
                log.warning("delivery worker %s: loop still busy at shutdown", self.worker_id)
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None
        if self._pool is not None:
            self._pool.close(timeout=5.0)
            self._pool = None

    # -- counters ---------------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    @property
    def counters(self) -> DeliveryCounters:
        with self._lock:
            return DeliveryCounters(**self._counts)

    # -- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set, then wait for in-flight deliveries.

        Pipelined: whenever one of the ``concurrency`` slots frees up, more entries are
        claimed, so one slow remote call does not hold the others back.  When idle it
        waits ``poll_interval``, or less when its listener thread hears an entry
        committed (NOTIFY citypulse_outbox).  Database outages are waited out with backoff."""
        done = threading.Event()
        listener = threading.Thread(
            target=self._listen, args=(done,), name=f"delivery-listen-{self.worker_id}"
        )
        listener.start()
        try:
            self._loop(stop)
        finally:
            done.set()
            listener.join(5.0)

    def _loop(self, stop: threading.Event) -> None:
        slots = threading.BoundedSemaphore(self._concurrency)
        next_sync = next_expire = self._monotonic()
        failures = 0

        def deliver(entry: OutboxEntry) -> None:
            try:
                self._deliver(entry)
            finally:
                slots.release()

        while not (stop.is_set() or self._stop.is_set()):
            if not slots.acquire(timeout=self._poll_interval):
                continue
            free = 1
            while free < self._concurrency and slots.acquire(blocking=False):
                free += 1
            entries: list[OutboxEntry] = []
            try:
                if self._monotonic() >= next_expire:
                    next_expire = self._monotonic() + self._poll_interval
                    self._expire()
                entries = self._claim(free)
                failures = 0
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                failures += 1
                self._count("errors")
                delay = self._backoff.delay(failures, None, self._rng)
                log.warning(
                    "delivery %s: database unavailable (%s); retry in %.1fs",
                    self.worker_id,
                    exc,
                    delay,
                )
                stop.wait(delay)
            except Exception:
                failures += 1
                self._count("errors")
                log.exception("delivery %s: claiming failed", self.worker_id)
                stop.wait(self._backoff.delay(failures, None, self._rng))
            for _ in range(free - len(entries)):
                slots.release()
            executor = self._executor
            assert executor is not None, "delivery worker is not open"
            for entry in entries:
                executor.submit(deliver, entry)
            if self._monotonic() >= next_sync:
                next_sync = self._monotonic() + self._sync_interval
                try:
                    self.sync_status_once()
                except Exception:
                    self._count("errors")
                    log.exception("delivery %s: status sync failed", self.worker_id)
            if not entries and self._wake.wait(self._poll_interval):
                self._wake.clear()
        for _ in range(self._concurrency):  # in-flight deliveries finish and are recorded
            slots.acquire()

    def _conn(self) -> psycopg_pool.ConnectionPool[psycopg.Connection[Any]]:
        if self._pool is None:
            # A programming error (used before open() or after close()): stays RuntimeError.
            raise RuntimeError("delivery worker is not open")
        return self._pool

    def _expire(self) -> None:
        with self._conn().connection() as conn:
            for gone in _outbox.expire(conn):
                self._count("failed_deadline")
                log.warning(
                    "outbox %d (appeal %d, %s) failed: %s",
                    gone.id,
                    gone.appeal_id,
                    gone.connector,
                    gone.error,
                )

    def _claim(self, limit: int) -> list[OutboxEntry]:
        with self._conn().connection() as conn:
            entries = _outbox.claim(
                conn,
                connectors=list(self._connectors),
                worker=self.worker_id,
                limit=limit,
                lease=self._lease,
            )
        self._count("claimed", len(entries))
        return entries

    def run_once(self) -> int:
        """One round: expire, claim up to ``concurrency`` entries, deliver them and wait;
        returns how many were claimed."""
        self._expire()
        entries = self._claim(self._concurrency)
        if len(entries) <= 1 or self._executor is None:
            for entry in entries:
                self._deliver(entry)
        else:
            list(self._executor.map(self._deliver, entries))
        return len(entries)

    # -- one delivery -----------------------------------------------------------------

    def _deliver(self, entry: OutboxEntry) -> None:
        client = self._client
        assert client is not None, "delivery worker is not open"
        connector = self._connectors[entry.connector]
        if entry.failed_predecessor is not None:
            self._fail(entry, None, f"earlier delivery {entry.failed_predecessor} failed")
            return
        try:
            result = connector.deliver(client, entry)
        except TransientDeliveryError as exc:
            self._retry(entry, exc.status, str(exc), exc.retry_after)
        except PermanentDeliveryError as exc:
            self._fail(entry, exc.status, str(exc))
        except Exception as exc:
            # A connector bug must not stop the others; retried until the deadline.
            log.exception("outbox %d: connector %s crashed", entry.id, entry.connector)
            self._retry(entry, None, f"{type(exc).__name__}: {exc}", None)
        else:
            self._delivered(entry, result)

    def _record(self, query: str, params: dict[str, object]) -> dict[str, Any] | None:
        """Run one outcome statement, retrying briefly: losing it means a re-delivery.
        Returns its ``RETURNING`` row by name; None when it returned none or was lost."""
        for attempt in range(1, 4):
            try:
                with self._conn().connection() as conn:
                    cur = conn.cursor(row_factory=dict_row).execute(query, params)
                    return cur.fetchone() if cur.description else None
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
                log.warning(
                    "outbox %s: cannot record outcome (try %d): %s", params.get("id"), attempt, exc
                )
                if attempt < 3:
                    time.sleep(0.5 * attempt)
        self._count("errors")
        return None

    def _delivered(self, entry: OutboxEntry, result: DeliveryResult) -> None:
        self._record(
            _outbox.DELIVERED,
            {"id": entry.id, "status": result.status, "remote_id": result.remote_id},
        )
        self._count("delivered")
        log.info(
            "outbox %d (appeal %d, %s %s) delivered on attempt %d%s",
            entry.id,
            entry.appeal_id,
            entry.connector,
            entry.event,
            entry.attempt,
            f", remote id {result.remote_id}" if result.remote_id else "",
        )

    def _retry(
        self, entry: OutboxEntry, status: int | None, error: str, retry_after: float | None
    ) -> None:
        delay = self._backoff.delay(entry.attempt, retry_after, self._rng)
        row = self._record(
            _outbox.RETRY,
            {
                "id": entry.id,
                "attempt": entry.attempt,
                "status": status,
                "error": error[:2000],
                "delay": delay,
            },
        )
        if row is None:
            self._count("lost_leases")
            log.warning("outbox %d: lease lost before recording: %s", entry.id, error)
        elif row["failed"]:
            self._count("failed_deadline")
            log.warning(
                "outbox %d (appeal %d, %s) failed, deadline passed after %d attempts: %s",
                entry.id,
                entry.appeal_id,
                entry.connector,
                entry.attempt,
                error,
            )
        else:
            self._count("retried")
            log.info(
                "outbox %d (appeal %d, %s) attempt %d failed, retry in %.2fs: %s",
                entry.id,
                entry.appeal_id,
                entry.connector,
                entry.attempt,
                delay,
                error,
            )

    def _fail(self, entry: OutboxEntry, status: int | None, error: str) -> None:
        self._record(_outbox.FAILED, {"id": entry.id, "status": status, "error": error[:2000]})
        self._count("failed_permanent")
        log.warning(
            "outbox %d (appeal %d, %s %s) failed permanently: %s",
            entry.id,
            entry.appeal_id,
            entry.connector,
            entry.event,
            error,
        )

    # -- status sync ------------------------------------------------------------------

    def sync_status_once(self, *, interval: float | None = None) -> int:
        """Poll remote status for delivered appeals not checked for ``interval`` seconds
        (default: the sync interval); returns how many changed."""
        client = self._client
        assert client is not None, "delivery worker is not open"
        interval = self._sync_interval if interval is None else interval
        changed = 0
        for name, connector in self._connectors.items():
            if not isinstance(connector, StatusSource):
                continue
            with self._conn().connection() as conn:
                due = _outbox.due_for_sync(
                    conn, connector=name, interval=interval, limit=self._sync_batch
                )
            for item in due:
                if self._stop.is_set():
                    return changed
                try:
                    changed += self._sync_one(client, connector, item)
                except TransientDeliveryError:
                    break  # the remote is struggling: the rest wait for the next round
        return changed

    def _sync_one(
        self, client: httpx.Client, connector: StatusSource, item: _outbox.Delivered
    ) -> int:
        self._count("status_checks")
        try:
            current = connector.sync_status(client, item.remote_id)
        except DeliveryError as exc:
            self._count("errors")
            log.warning(
                "outbox %d (appeal %d): status check failed: %s", item.id, item.appeal_id, exc
            )
            if isinstance(exc, TransientDeliveryError):
                raise
            return 0
        with self._conn().connection() as conn, conn.transaction():
            conn.execute(
                _outbox.SYNCED,
                {
                    "id": item.id,
                    "status": current.status or None,
                    "notes": current.notes,
                    "remote_id": current.remote_id,
                },
            )
            if not current.status or current.status == item.remote_status:
                return 0
            self._on_remote_status(
                conn,
                appeal_id=item.appeal_id,
                connector=item.connector,
                previous=item.remote_status,
                current=current,
            )
        self._count("status_changes")
        log.info("appeal %d: %s reports %s", item.appeal_id, item.connector, current.status)
        return 1
