"""HMAC-SHA256 body signatures with a timestamp: our webhooks and the events intake alike.

A signed request carries::

    X-Citypulse-Timestamp: <Unix seconds when it was signed>
    X-Citypulse-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

Signing the timestamp with the body lets a receiver refuse replays older than its
tolerance.  ``connectors`` signs the webhooks it sends; ``appeals`` checks the events other
systems send to it; both use these functions, so the scheme is one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

from citypulse._errors import SignatureError
from citypulse._settings import Secret

TIMESTAMP_HEADER = "X-Citypulse-Timestamp"
SIGNATURE_HEADER = "X-Citypulse-Signature"
_SCHEME = "sha256="


def _key(secret: Secret | str | bytes) -> bytes:
    if isinstance(secret, Secret):
        secret = secret.value
    return secret.encode() if isinstance(secret, str) else secret


def sign_body(secret: Secret | str | bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Citypulse-Signature`` value for ``body`` signed at ``timestamp``."""
    mac = hmac.new(_key(secret), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return _SCHEME + mac.hexdigest()


def verify_body(
    secret: Secret | str | bytes,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> None:
    """Check a signed body; raise :class:`SignatureError` if it is not genuine.

    ``headers`` may be any mapping or (name, value) pairs (names are case-insensitive);
    ``body`` must be the raw bytes as received.  The timestamp must be within
    ``tolerance`` seconds of ``now`` (default: the current time) either way.
    """
    if not _key(secret):
        raise SignatureError("no secret configured")
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lower = {name.lower(): value for name, value in pairs}
    raw_ts = lower.get(TIMESTAMP_HEADER.lower())
    signature = lower.get(SIGNATURE_HEADER.lower())
    if raw_ts is None or signature is None:
        raise SignatureError("missing timestamp or signature header")
    try:
        timestamp = int(raw_ts.strip())
    except ValueError:
        raise SignatureError("timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"timestamp {timestamp} outside ±{tolerance:g}s")
    expected = sign_body(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureError("signature mismatch")
