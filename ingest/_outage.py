"""How a database outage shows in ingest's log: one line as it starts, progress, one line
as it ends.

While the database is away both flushers retry their batches with backoff and the
housekeeper's writes fail too; a warning per failed attempt would bury the log and still
not say how long the outage has lasted or what waits.  Whoever meets the outage first
starts it (a warning), a progress warning follows every ``every`` seconds while attempts
keep failing, and the first success ends it (one line).  The attempts themselves are the
callers' DEBUG lines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class OutageLog:
    """One outage at a time, for every thread of a worker.

    ``pending()`` gives the messages and readings held unacknowledged; ``clock`` is
    monotonic seconds.
    """

    def __init__(
        self,
        *,
        pending: Callable[[], tuple[int, int]],
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not every > 0:
            raise ValueError("every must be positive")
        self._pending = pending
        self._every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None  # when the outage started
        self._reported = 0.0  # when it was last reported
        self._failures = 0

    def failed(self, error: BaseException) -> None:
        """An attempt to reach the database failed for a reason that may pass."""
        now = self._clock()
        with self._lock:
            self._failures += 1
            since = self._since
            if since is None:
                self._since = self._reported = now
            elif now - self._reported >= self._every:
                self._reported = now
            else:
                return
            failures = self._failures
        messages, readings = self._pending()
        if since is None:
            log.warning(
                "database unavailable: storing and acknowledging wait for it "
                "(%d messages pending): %s",
                messages,
                error,
            )
        else:
            log.warning(
                "database still unavailable after %.0f s: %d messages (%d readings) pending, "
                "not acknowledged; %d attempts failed, the last: %s",
                now - since,
                messages,
                readings,
                failures,
                error,
            )

    def succeeded(self) -> None:
        """An attempt reached the database: an outage, if one is going on, is over."""
        if self._since is None:  # the common case, without taking the lock
            return
        now = self._clock()
        with self._lock:
            since, failures = self._since, self._failures
            self._since = None
            self._failures = 0
        if since is not None:
            messages, _ = self._pending()
            log.warning(
                "database back after %.1f s (%d attempts failed); storing %d pending messages",
                now - since,
                failures,
                messages,
            )
