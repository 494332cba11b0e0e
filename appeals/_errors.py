"""Errors of the appeals package (routing, the appeals store, the API).

::

    AppealsError (CitypulseError)
    ├── RoutingError        the routing file is invalid; ``where`` names the place
    │                       (also a citypulse ConfigError: exit code 2 at the CLI)
    ├── AppealNotFound      no appeal with ``appeal_id``
    ├── UnknownService      no service ``service_code`` in the routing file
    ├── TransitionRefused   ``appeal_id`` cannot go from ``current`` to ``target``
    ├── EventConflict       ``source`` sent ``event_id`` again with another body
    ├── ApiError            a request the API refuses; ``status`` is the HTTP status
    └── ServerStartError    the API server did not start on ``host``:``port``
"""

from __future__ import annotations

from collections.abc import Mapping

from citypulse import CitypulseError, ConfigError


class AppealsError(CitypulseError):
    """Root of every error the appeals package raises on purpose."""


class RoutingError(ConfigError, AppealsError):
    """The routing configuration is invalid at ``where`` (a path like ``routes.congestion``)."""

    def __init__(self, source: str, where: str, message: str) -> None:
        super().__init__("CITYPULSE_ROUTING_FILE", f"{source}: {where}: {message}")
        self.where = where


class AppealNotFound(AppealsError):
    def __init__(self, appeal_id: int) -> None:
        super().__init__(f"no appeal {appeal_id}")
        self.appeal_id = appeal_id


class UnknownService(AppealsError):
    def __init__(self, service_code: str) -> None:
        super().__init__(f"unknown service_code {service_code[:64]!r} (see GET services)")
        self.service_code = service_code


class TransitionRefused(AppealsError):
    def __init__(self, appeal_id: int, current: str, target: str) -> None:
        super().__init__(f"appeal {appeal_id} is {current}; it cannot become {target}")
        self.appeal_id = appeal_id
        self.current = current
        self.target = target


class EventConflict(AppealsError):
    """An event id a source system already used, sent again with a different body."""

    def __init__(self, source: str, event_id: str) -> None:
        super().__init__(
            f"event {event_id!r} of {source} was received before with a different body"
        )
        self.source = source
        self.event_id = event_id


class ApiError(AppealsError):
    """A request the API refuses: ``status`` (4xx, or 503) and a message for the caller."""

    def __init__(self, status: int, description: str, headers: Mapping[str, str] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = dict(headers or {})


class ServerStartError(AppealsError):
    """The API server did not start listening on ``host``:``port`` (taken, say)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"the API did not start on {host}:{port}")
        self.host = host
        self.port = port
