"""Signed JSON webhooks, and the check a receiver runs on them (docs/webhooks.md).

Every POST carries::

    Content-Type: application/json
    X-Citypulse-Event: created | updated
    Idempotency-Key: <derived from the appeal id and event; the same on every retry>
    X-Citypulse-Timestamp: <Unix seconds when this attempt was signed>
    X-Citypulse-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

The body is ``{"event", "idempotency_key", "delivery_id", "appeal_id", "appeal"}`` where
``appeal`` is the Open311 service request with citypulse's extras.  Signing the
timestamp with the body lets a receiver refuse replays older than its tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import httpx
import orjson

from citypulse import ConfigError, Secret, Settings
from connectors._connector import DeliveryResult
from connectors._errors import PermanentDeliveryError, WebhookSignatureError
from connectors._http import send
from connectors._outbox import OutboxEntry

EVENT_HEADER = "X-Citypulse-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Citypulse-Timestamp"
SIGNATURE_HEADER = "X-Citypulse-Signature"
_SCHEME = "sha256="


def _key(secret: Secret | str | bytes) -> bytes:
    if isinstance(secret, Secret):
        secret = secret.value
    return secret.encode() if isinstance(secret, str) else secret


def sign_webhook(secret: Secret | str | bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Citypulse-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(_key(secret), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return _SCHEME + mac.hexdigest()


def verify_webhook(
    secret: Secret | str | bytes,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> None:
    """Check a received webhook; raise :class:`WebhookSignatureError` if it is not genuine.

    ``headers`` may be any mapping or (name, value) pairs (names are case-insensitive);
    ``body`` must be the raw bytes as received.  The timestamp must be within
    ``tolerance`` seconds of ``now`` (default: the current time) either way.
    """
    if not _key(secret):
        raise WebhookSignatureError("no secret configured")
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lower = {name.lower(): value for name, value in pairs}
    raw_ts = lower.get(TIMESTAMP_HEADER.lower())
    signature = lower.get(SIGNATURE_HEADER.lower())
    if raw_ts is None or signature is None:
        raise WebhookSignatureError("missing timestamp or signature header")
    try:
        timestamp = int(raw_ts.strip())
    except ValueError:
        raise WebhookSignatureError("timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError(f"timestamp {timestamp} outside ±{tolerance:g}s")
    expected = sign_webhook(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise WebhookSignatureError("signature mismatch")


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
