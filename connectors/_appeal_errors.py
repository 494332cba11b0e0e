"""Errors of the appeals side of ``connectors`` (routing, appeals, the API); the whole
tree, under one :class:`ConnectorError` root, is drawn in ``connectors._errors``."""

from __future__ import annotations

from citypulse._errors import ConfigError
from connectors._errors import ConnectorError


class RoutingError(ConfigError, ConnectorError):
    """The routing configuration is invalid at ``where`` (a path like ``routes.congestion``)."""

    def __init__(self, source: str, where: str, message: str) -> None:
        super().__init__("CITYPULSE_ROUTING_FILE", f"{source}: {where}: {message}")
        self.where = where


class AppealsError(ConnectorError):
    """Root of the appeals side's own errors."""


class AppealNotFound(AppealsError):
    def __init__(self, appeal_id: int) -> None:
        super().__init__(f"no appeal {appeal_id}")
        self.appeal_id = appeal_id


class TransitionRefused(AppealsError):
    def __init__(self, appeal_id: int, current: str, target: str) -> None:
        super().__init__(f"appeal {appeal_id} is {current}; it cannot become {target}")
        self.appeal_id = appeal_id
        self.current = current
        self.target = target
