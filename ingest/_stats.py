"""Ingest counters, written to ``ingest_stats`` every few seconds, and schema upkeep."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from citypulse import percentile
from citypulse.db import is_transient, maintain
from ingest._side import SideConnection

if TYPE_CHECKING:
    from ingest._outage import OutageLog
    from ingest._sink import Item, StoreResult

log = logging.getLogger(__name__)

_INSERT = """
INSERT INTO ingest_stats (time, worker, interval_s, received, stored, duplicates, rejected,
    rejected_by_reason, batches, batch_size_avg, commit_ms_p50, commit_ms_p99, lag_ms_p50,
    lag_ms_p99, queue_depth)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""


@dataclass
class Counters:
    """Thread-safe running counters; :meth:`take` returns and resets the interval's."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    messages_in_batches: int = 0
    store_retries: int = 0
    backpressure_waits: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    commit_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    total_stored: int = 0
    total_received: int = 0
    total_rejected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record_batch(
        self, batch: Sequence[Item], result: StoreResult, seconds: float, committed: datetime
    ) -> None:
        commit_epoch = committed.timestamp()
        lags = [
            (commit_epoch - i.decoded.newest.timestamp()) * 1000
            for i in batch[:: max(1, len(batch) // 200)]  # a sample keeps this cheap
            if i.decoded.newest is not None and not i.decoded.rows[0][-1]  # time_from_receiver
        ]
        rejected = sum(result.rejected.values())
        with self._lock:
            self.received += len(batch)
            self.total_received += len(batch)
            self.stored += result.stored
            self.total_stored += result.stored
            self.duplicates += result.duplicates
            self.rejected += rejected
            self.total_rejected += rejected
            self.batches += 1
            self.messages_in_batches += len(batch)
            for reason, n in result.rejected.items():
                self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + n
            self.commit_ms.append(seconds * 1000)
            self.lag_ms.extend(lags)

    def take(self) -> dict[str, Any]:
        with self._lock:
            snapshot = {
                "received": self.received,
                "stored": self.stored,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "rejected_by_reason": dict(self.rejected_by_reason),
                "batches": self.batches,
                "batch_size_avg": self.messages_in_batches / self.batches if self.batches else None,
                "commit_ms_p50": percentile(self.commit_ms, 0.5),
                "commit_ms_p99": percentile(self.commit_ms, 0.99),
                "lag_ms_p50": percentile(self.lag_ms, 0.5),
                "lag_ms_p99": percentile(self.lag_ms, 0.99),
            }
            self.received = self.stored = self.duplicates = self.rejected = 0
            self.batches = self.messages_in_batches = 0
            self.rejected_by_reason = {}
            self.commit_ms = []
            self.lag_ms = []
        return snapshot

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {
                "received": self.total_received,
                "stored": self.total_stored,
                "rejected": self.total_rejected,
                "retries": self.store_retries,
            }


class Housekeeper:
    """Writes the counters every ``stats_interval`` s; runs upkeep every ``maintain_interval`` s.

    A failure to reach the database goes to ``outage`` (the worker's log of a database
    outage) rather than a warning every interval.
    """

    def __init__(
        self,
        *,
        database_url: str,
        worker_id: str,
        counters: Counters,
        pending: Callable[[], int],
        stats_interval: float,
        maintain_interval: float,
        stopping: threading.Event,
        outage: OutageLog | None = None,
    ) -> None:
        self._outage = outage
        self._worker = worker_id
        self._counters = counters
        self._pending = pending
        self._stats_interval = stats_interval
        self._maintain_interval = maintain_interval
        self._stopping = stopping
        self._last = time.monotonic()
        self._db = SideConnection(database_url, f"citypulse-ingest-stats {worker_id}")

    def run(self) -> None:
        next_maintain = time.monotonic()
        while not self._stopping.wait(self._stats_interval):
            self.flush()
            if time.monotonic() >= next_maintain:
                next_maintain = time.monotonic() + self._maintain_interval
                try:
                    maintain(self._db.get())
                except Exception as exc:  # upkeep retries at the next interval
                    self._failed("schema upkeep failed (retrying later): %s", exc)
                    self._db.close()

    def flush(self) -> None:
        now = time.monotonic()
        interval, self._last = now - self._last, now
        snap = self._counters.take()
        if snap["received"]:
            log.info(
                "ingest: %d received, %d stored, %d duplicates, %d rejected %s in %.1fs; "
                "commit p99 %.1f ms; lag p99 %s ms",
                snap["received"],
                snap["stored"],
                snap["duplicates"],
                snap["rejected"],
                snap["rejected_by_reason"] or "",
                interval,
                snap["commit_ms_p99"] or 0,
                f"{snap['lag_ms_p99']:.0f}" if snap["lag_ms_p99"] is not None else "-",
            )
        try:
            self._db.get().execute(
                _INSERT,
                (
                    datetime.now(UTC),
                    self._worker,
                    interval,
                    snap["received"],
                    snap["stored"],
                    snap["duplicates"],
                    snap["rejected"],
                    Jsonb(snap["rejected_by_reason"]),
                    snap["batches"],
                    snap["batch_size_avg"],
                    snap["commit_ms_p50"],
                    snap["commit_ms_p99"],
                    snap["lag_ms_p50"],
                    snap["lag_ms_p99"],
                    self._pending(),
                ),
            )
        except Exception as exc:  # counters of one interval are not worth failing ingest
            self._failed("could not write ingest_stats (skipped this interval): %s", exc)
            self._db.close()
        else:
            if self._outage is not None:
                self._outage.succeeded()

    def _failed(self, message: str, exc: Exception) -> None:
        if self._outage is not None and is_transient(exc):
            log.debug(message, exc)
            self._outage.failed(exc)
        else:
            log.warning(message, exc)

    def close(self) -> None:
        self._db.close()
