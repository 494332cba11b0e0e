"""Errors of the ingest package.

::

    IngestError (CitypulseError)
    ├── TransientStoreError   the database is unreachable, busy or timed out: retry with
    │                         backoff; ``timed_out`` marks a statement timeout
    └── PermanentStoreError   the database refused the batch or the connection for a reason
                              retrying won't fix (a bad URL, a failed login, a bug)

Transient versus permanent is decided once, in the sink (``ingest._sink``), where
psycopg's exception is caught, by :func:`citypulse.db.is_transient`; the worker only
looks at the type.
"""

from __future__ import annotations

from citypulse import CitypulseError


class IngestError(CitypulseError):
    """Root of the ingest package's errors."""


class TransientStoreError(IngestError):
    """Storing a batch failed in a way that may succeed later (connection lost, timeout).

    ``timed_out`` tells a statement timeout (the batch waited on a lock or an overloaded
    server) from a lost connection.
    """

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class PermanentStoreError(IngestError):
    """Storing a batch, or connecting to store it, failed for good (a bad URL or login, a
    bug, a schema mismatch): needs a person."""
