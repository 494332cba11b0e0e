"""The HTTP boundary of every connector: one client, httpx errors translated once.

``send`` turns what httpx raises and what the remote answers into a response (2xx), a
:class:`TransientDeliveryError` (transport errors, timeouts, 408, 429, 5xx, with the
remote's ``Retry-After``) or a :class:`PermanentDeliveryError` (anything else).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx

from connectors._errors import PermanentDeliveryError, TransientDeliveryError

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_EXCERPT = 300


def new_client(timeout: float, *, user_agent: str = "citypulse") -> httpx.Client:
    """The long-lived client a delivery worker owns: explicit timeouts, no redirects."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        headers={"User-Agent": user_agent},
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
    )


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means "-0000"
        return None
    return max(0.0, when.timestamp() - now())


def _excerpt(response: httpx.Response) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, httpx.HTTPError):
        return "<undecodable body>"
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


def send(
    client: httpx.Client,
    request: httpx.Request,
    *,
    now: Callable[[], float] = time.time,
) -> httpx.Response:
    """Send ``request``; return a 2xx response or raise a typed delivery error."""
    url = request.url  # no userinfo and no query in messages: they may hold credentials
    what = (
        f"{request.method} {url.scheme}://{url.host}{f':{url.port}' if url.port else ''}{url.path}"
    )
    try:
        response = client.send(request)
        response.read()
    except httpx.TimeoutException as exc:
        raise TransientDeliveryError(f"{what}: timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransientDeliveryError(f"{what}: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return response
    message = f"{what}: HTTP {status} {_excerpt(response)}".rstrip()
    if status in RETRYABLE_STATUSES or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        raise TransientDeliveryError(message, status=status, retry_after=retry_after)
    raise PermanentDeliveryError(message, status=status)
