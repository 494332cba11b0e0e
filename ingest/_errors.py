"""Errors of the ingest package.

::

    IngestError (CitypulseError)
    ├── TransientStoreError   the database is unreachable or timed out: retry with backoff
    └── PermanentStoreError   the database refused the batch for a reason retrying won't fix
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
    """Storing a batch failed for good (a bug or a schema mismatch): needs a person."""
