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
    """Storing a batch failed in a way that may succeed later (connection lost, timeout)."""


class PermanentStoreError(IngestError):
    """Storing a batch failed for good (a bug or a schema mismatch): needs a person."""
