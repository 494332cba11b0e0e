"""Errors shared by every citypulse package, and the root each package's tree hangs from.

::

    CitypulseError
    ├── ConfigError              bad or missing configuration or option (exit code 2 at
    │                            the CLI); ``setting`` names it
    ├── DatabaseError            a database operation citypulse owns failed
    │   ├── DatabaseUnavailable  the server cannot be reached now (refused, timed out,
    │   │                        starting up, shutting down, too many connections): retry
    │   ├── MigrationError       a migration failed or an applied one was edited
    │   └── SchemaModeError      the requested schema mode cannot run on this server
    ├── SignatureError           a signed body did not verify (citypulse/_signing.py)
    ├── SimulatorError           simulator/_errors.py
    ├── IngestError              ingest/_errors.py
    ├── DetectorError            detectors/_errors.py
    ├── AppealsError             appeals/_errors.py
    ├── ConnectorError           connectors/_errors.py
    ├── GrafanaError             grafana/_errors.py
    └── ConsoleError             console/_errors.py

Each package draws its own subtree in its ``_errors.py``; a package error that is wrong
input also derives from :class:`ConfigError` (``appeals.RoutingError``,
``detectors.DetectorConfigError``).  Whether a database failure is worth retrying is
decided once, by ``citypulse.db.is_transient``, where psycopg's exception is caught.
"""

from __future__ import annotations

from typing import Any


class CitypulseError(Exception):
    """Root of every error citypulse raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take their own arguments, not the message that Exception keeps in
        # ``args``, so pickle's default (calling the class with ``args``) fails to rebuild
        # them: a worker process's error would reach its parent as an unpickling error.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[CitypulseError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An unpickled error: its class, message and attributes, without its ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(CitypulseError):
    """Configuration is missing or invalid; the message names the setting."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


class DatabaseError(CitypulseError):
    """A database operation citypulse owns failed."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached now, but may be later: callers retry with backoff."""


class MigrationError(DatabaseError):
    """A migration could not be applied; ``version`` names it."""

    def __init__(self, version: int | None, message: str) -> None:
        super().__init__(message if version is None else f"migration {version:04d}: {message}")
        self.version = version


class SchemaModeError(DatabaseError):
    """The requested schema mode (timescale or plain) is not possible here."""


class SignatureError(CitypulseError):
    """A signed body did not verify: missing header, stale timestamp or wrong signature;
    ``reason`` says which (it never contains the secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
