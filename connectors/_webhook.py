"""Signed JSON webhooks, and the check a receiver runs on them (docs/webhooks.md).

Every POST carries::

    Content-Type: application/json
    X-Citypulse-Event: created | updated
    Idempotency-Key: <derived from the appeal id and event; the same on every retry>
    X-Citypulse-Timestamp: <Unix seconds when this attempt was signed>
    X-Citypulse-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

The body is ``{"event", "idempotency_key", "delivery_id", "appeal_id", "appeal"}`` where
``appeal`` is the Open311 service request with citypulse's extras.  Signing the
timestamp with the body lets a receiver refuse replays older than its tolerance.  The
scheme is the kernel's (``citypulse.sign_body``), shared with the events intake.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import httpx
import orjson

from citypulse import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ConfigError,
    Secret,
    Settings,
    SignatureError,
    sign_body,
    verify_body,
)
from connectors._connector import DeliveryResult
from connectors._errors import PermanentDeliveryError, WebhookSignatureError
from connectors._http import send
from connectors._outbox import OutboxEntry

EVENT_HEADER = "X-Citypulse-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign_webhook(secret: Secret | str | bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Citypulse-Signature`` value for ``body`` sent at ``timestamp``."""
    return sign_body(secret, timestamp, body)


def verify_webhook(
    secret: Secret | str | bytes,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> None:
    """Check a received webhook as :func:`citypulse.verify_body` does (its arguments);
    raise :class:`WebhookSignatureError` if it is not genuine."""
    try:
        verify_body(secret, headers, body, tolerance=tolerance, now=now)
    except SignatureError as exc:
        raise WebhookSignatureError(exc.reason) from exc


@dataclass(frozen=True, slots=True)
class WebhookConnector:
    """POSTs each outbox entry as signed JSON to one URL."""

    url: str
    secret: Secret = field(repr=False)
    name: str = "webhook"
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s)://, got {self.url[:40]!r}")
        if not self.secret:
            raise ValueError("webhook secret must not be empty: receivers verify signatures")

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookConnector:
        if not settings.webhook_url:
            raise ConfigError("CITYPULSE_WEBHOOK_URL", "required by the webhook connector")
        if not settings.webhook_secret:
            raise ConfigError("CITYPULSE_WEBHOOK_SECRET", "required by the webhook connector")
        try:
            return cls(url=settings.webhook_url, secret=settings.webhook_secret)
        except ValueError as exc:
            raise ConfigError("CITYPULSE_WEBHOOK_URL", str(exc)) from exc

    def body(self, entry: OutboxEntry) -> bytes:
        """The JSON document sent for ``entry`` (the same on every attempt)."""
        try:
            return orjson.dumps(
                {
                    "event": entry.event,
                    "idempotency_key": entry.idempotency_key,
                    "delivery_id": entry.id,
                    "appeal_id": entry.appeal_id,
                    "appeal": entry.payload,
                },
                option=orjson.OPT_SORT_KEYS,
            )
        except TypeError as exc:
            raise PermanentDeliveryError(f"payload is not JSON: {exc}") from exc

    def deliver(self, client: httpx.Client, entry: OutboxEntry) -> DeliveryResult:
        body = self.body(entry)
        timestamp = int(self.clock())
        request = client.build_request(
            "POST",
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                EVENT_HEADER: entry.event,
                IDEMPOTENCY_HEADER: entry.idempotency_key,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign_webhook(self.secret, timestamp, body),
            },
        )
        response = send(client, request, now=self.clock)
        return DeliveryResult(status=response.status_code)
