"""Errors of the dashboards package.

::

    GrafanaError (CitypulseError)
    ├── MacroError     a panel query cannot be expanded as Grafana would
    └── PublishError   the Grafana HTTP API refused or failed a request (status, path)
"""

from __future__ import annotations

from citypulse import CitypulseError


class GrafanaError(CitypulseError):
    """Root of the dashboards package's errors."""


class MacroError(GrafanaError):
    """A query uses a macro or variable format Grafana would reject."""


class PublishError(GrafanaError):
    """A Grafana API request failed; ``status`` is None for transport errors."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        super().__init__(f"{method} {path}: {status or 'no response'}: {message}")
        self.method = method
        self.path = path
        self.status = status
