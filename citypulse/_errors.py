"""Errors shared by every citypulse package.

::

    CitypulseError
    ├── ConfigError          bad or missing configuration (exit code 2 at the CLI)
    └── DatabaseError
        ├── MigrationError   a migration failed or an applied one was edited
        └── SchemaModeError  the requested schema mode cannot run on this server

Packages derive their own small trees from :class:`CitypulseError`.
"""

from __future__ import annotations


class CitypulseError(Exception):
    """Root of every error citypulse raises on purpose."""


class ConfigError(CitypulseError):
    """Configuration is missing or invalid; the message names the setting."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


class DatabaseError(CitypulseError):
    """A database operation citypulse owns failed."""


class MigrationError(DatabaseError):
    """A migration could not be applied; ``version`` names it."""

    def __init__(self, version: int | None, message: str) -> None:
        super().__init__(message if version is None else f"migration {version:04d}: {message}")
        self.version = version


class SchemaModeError(DatabaseError):
    """The requested schema mode (timescale or plain) is not possible here."""
