"""Errors of the connectors package (the outbox and its deliveries).

::

    ConnectorError (CitypulseError)
    ├── DeliveryError              one delivery attempt failed; ``status`` is the HTTP status
    │   ├── TransientDeliveryError transport error, timeout, 408, 429, 5xx: retried later,
    │   │                          not before ``retry_after`` seconds when the remote said so
    │   └── PermanentDeliveryError any other refusal (4xx, a payload the remote cannot take)
    └── WebhookSignatureError      a received webhook failed verification; ``reason`` says why

Transient versus permanent is decided once, where the foreign (httpx) exception or the
HTTP status is seen (``connectors._http``); the delivery worker only looks at the type.
"""

from __future__ import annotations

from citypulse import CitypulseError


class ConnectorError(CitypulseError):
    """Root of every error the connectors package raises on purpose."""


class DeliveryError(ConnectorError):
    """A delivery attempt failed; ``status`` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientDeliveryError(DeliveryError):
    """Worth retrying; ``retry_after`` (seconds) is the remote's own wish, if it gave one."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: the entry is marked failed with this message."""


class WebhookSignatureError(ConnectorError):
    """A webhook did not verify: missing header, stale timestamp or wrong signature."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook rejected: {reason}")
        self.reason = reason
