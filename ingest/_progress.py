"""How far this worker has committed, written to ``ingest_progress`` for ``citypulse detect``.

A detect poll reads what arrived since its watermark, and ingest commits out of the order
it received in: so the poll must go back to the oldest receipt time any ingest worker may
still commit.  This thread writes this worker's (``IngestWorker.committed_through``)
every ``interval`` seconds when it moved; ``close`` removes the row once the flushers have
stopped (nothing more will be committed under this client id's receipts).  A write that
fails is logged and tried again at the next interval: a detect worker ignores a row that
has not been written for a minute and falls back on its own overlap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from citypulse import CitypulseError
from citypulse.db import is_transient
from ingest._side import SideConnection

log = logging.getLogger(__name__)

_WRITE = """
INSERT INTO ingest_progress (client_id, committed_through, updated_at)
VALUES (%s, to_timestamp(%s), now())
ON CONFLICT (client_id) DO UPDATE
SET committed_through = excluded.committed_through, updated_at = excluded.updated_at
"""
_GONE = "DELETE FROM ingest_progress WHERE client_id = %s"


class Progress:
    """The writer thread of one worker; ``start()``, then ``close()``."""

    def __init__(
        self,
        *,
        database_url: str,
        client_id: str,
        worker_id: str,
        through: Callable[[], float],
        interval: float,
    ) -> None:
        if not interval > 0:
            raise ValueError("the progress interval must be positive")
        self._client_id = client_id
        self._through = through
        self._interval = interval
        self._db = SideConnection(database_url, f"citypulse-ingest-progress {worker_id}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-progress", daemon=True)
        self._written: float | None = None
        self.writes = 0

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop writing and remove this worker's row (call once nothing more commits)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            self._db.get().execute(_GONE, (self._client_id,))
        except (psycopg.Error, CitypulseError) as exc:
            log.warning("cannot remove ingest progress of %s: %s", self._client_id, exc)
        self._db.close()

    def write(self) -> None:
        """Write the current value if it moved (or was never written)."""
        through = self._through()
        if through == self._written:
            return
        self._db.get().execute(_WRITE, (self._client_id, through))
        self._written = through
        self.writes += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.write()
            except (psycopg.Error, CitypulseError) as exc:
                self._db.close()
                level = logging.DEBUG if is_transient(exc) else logging.ERROR
                log.log(level, "writing ingest progress failed: %s", exc)
            except Exception:  # the top of this thread's loop: keep going
                log.exception("writing ingest progress failed")
                self._db.close()
            self._stop.wait(self._interval)
