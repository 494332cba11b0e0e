"""``POST /api/v1/events``: events from the region's other systems (docs/events.md).

A request carries a JSON object, the key of a ``system`` role (``X-Api-Key``) and the
body's HMAC signature made with that key's signing secret, in the webhooks' scheme::

    X-Citypulse-Timestamp: <Unix seconds when it was signed>
    X-Citypulse-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

Answers: 201 with the incident and appeal the event opened or updated; 200 with the first
answer for a repeated ``(source, event_id)``; 400 for a body that is not a valid event (the
message names the field); 401 without a valid key, signature or a fresh timestamp (five
minutes either way); 403 for a key of another role or another source system; 409 for a
repeated event id with a different body; 413 for a body over the limit; 415 for a body
that is not JSON; 422 for a well-formed event its source may not send (an event type the
routing file does not map, a time in the future).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from appeals._auth import Principal, signing_secret
from appeals._errors import ApiError, EventConflict
from appeals._event_store import EventOutcome, EventRecorder, SystemEvent
from appeals._routing import Routing
from citypulse import SignatureError, verify_body

if TYPE_CHECKING:
    from appeals._api import Api

log = logging.getLogger(__name__)

SIGNATURE_TOLERANCE = 300.0  # seconds either way, as our webhooks' receivers check
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks differ; an event later than this is refused
_FIELDS = frozenset(
    {
        "source",
        "event_id",
        "type",
        "occurred_at",
        "location",
        "address",
        "device_id",
        "severity",
        "description",
        "extra",
    }
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}\Z")
_MAX_EXTRA = 8 * 1024


def _text(data: Mapping[str, object], name: str, limit: int, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"{name}: required")
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{name}: expected a string")
    if len(value) > limit:
        raise ApiError(400, f"{name}: at most {limit} characters")
    if _CONTROL.search(value):
        raise ApiError(400, f"{name}: control characters are not allowed")
    value = value.strip()
    if required and not value:
        raise ApiError(400, f"{name}: required")
    return value


def _identifier(data: Mapping[str, object], name: str, *, required: bool) -> str:
    value = _text(data, name, 200, required=required)
    if value and not _ID.match(value):
        raise ApiError(400, f"{name}: 1 to 200 letters, digits and . _ : / - (no spaces)")
    return value


def _number(raw: object, name: str, bound: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ApiError(400, f"{name}: expected a number")
    value = float(raw)
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise ApiError(400, f"{name}: must be between -{bound:g} and {bound:g}")
    return value


def _occurred_at(data: Mapping[str, object], now: datetime) -> datetime:
    raw = _text(data, "occurred_at", 64, required=True)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, "occurred_at: expected ISO 8601 with an offset, like 2026-11-25T08:14:00+03:00"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ApiError(400, "occurred_at: give the time zone offset (e.g. +03:00 or Z)")
    if value.year < 2000:
        raise ApiError(400, "occurred_at: out of range")
    if value > now + FUTURE_TOLERANCE:
        raise ApiError(422, "occurred_at: in the future (more than 5 minutes ahead)")
    return value.astimezone(UTC)


def parse_event(data: object, routing: Routing, *, now: datetime | None = None) -> SystemEvent:
    """A decoded JSON body -> a validated :class:`SystemEvent` (ApiError 400/422 if bad)."""
    if not isinstance(data, dict):
        raise ApiError(400, "body: expected a JSON object")
    unknown = sorted(str(k)[:40] for k in data if k not in _FIELDS)
    if unknown:
        raise ApiError(400, f"unknown field(s) {', '.join(unknown)}; see docs/events.md")
    source_name = _identifier(data, "source", required=True)
    source = routing.events.sources.get(source_name)
    if source is None:
        known = ", ".join(routing.events.sources) or "none"
        raise ApiError(422, f"source: unknown system {source_name!r} (known: {known})")
    event_id = _identifier(data, "event_id", required=True)
    event_type = _text(data, "type", 64, required=True)
    if event_type not in source.types:
        raise ApiError(
            422,
            f"type: {event_type[:64]!r} is not an event type of {source_name} "
            f"(known: {', '.join(source.types)})",
        )
    occurred_at = _occurred_at(data, now or datetime.now(UTC))
    lat = lon = None
    location = data.get("location")
    if location is not None:
        if not isinstance(location, dict) or set(location) - {"lat", "lon"}:
            raise ApiError(400, 'location: expected {"lat": <number>, "lon": <number>}')
        if "lat" not in location or "lon" not in location:
            raise ApiError(400, "location: give both lat and lon")
        lat = _number(location["lat"], "location.lat", 90)
        lon = _number(location["lon"], "location.lon", 180)
    address = _text(data, "address", 500)
    if lat is None and not address:
        raise ApiError(400, "location or address: give at least one")
    severity = data.get("severity")
    if severity is not None and (
        isinstance(severity, bool) or not isinstance(severity, int) or not 1 <= severity <= 4
    ):
        raise ApiError(400, "severity: expected an integer 1 (low) .. 4 (critical)")
    extra = data.get("extra", {})
    if extra is None:
        extra = {}
    if not isinstance(extra, dict):
        raise ApiError(400, "extra: expected a JSON object")
    if len(orjson.dumps(extra)) > _MAX_EXTRA:
        raise ApiError(400, f"extra: at most {_MAX_EXTRA} bytes of JSON")
    return SystemEvent(
        source=source_name,
        event_id=event_id,
        type=event_type,
        occurred_at=occurred_at,
        lat=lat,
        lon=lon,
        address=address,
        device_id=_identifier(data, "device_id", required=False) or None,
        severity=severity,
        description=_text(data, "description", 4000),
        extra=extra,
    )


def _decode(body: bytes, content_type: str) -> Any:
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, "send the event as application/json")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "body: not valid JSON") from None


def _answer(outcome: EventOutcome) -> Response:
    body = {
        "source": outcome.source,
        "event_id": outcome.event_id,
        "incident_id": outcome.incident_id,
        "appeal_id": outcome.appeal_id,
        "outcome": outcome.outcome,
        "replayed": outcome.replayed,
    }
    return Response(
        orjson.dumps(body),
        status_code=200 if outcome.replayed else 201,
        media_type="application/json",
    )


class EventIntake:
    """The ``POST /api/v1/events`` handler over an :class:`~appeals._api.Api`'s pool,
    routing, keys and connectors."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.recorder = EventRecorder(routing=api.routing, connectors=api.connectors)

    def _authenticate(
        self, conn: psycopg.Connection[Any], key: str, body: bytes, headers: Mapping[str, str]
    ) -> Principal:
        principal = self.api.keys.lookup(conn, key)
        if principal is None:
            raise ApiError(401, "api_key is not valid")
        if not principal.may("system"):
            raise ApiError(403, f"this key's role is {principal.role}; system is required")
        secret = signing_secret(conn, principal.name)
        if secret is None:
            raise ApiError(401, "this key has no signing secret")
        try:
            verify_body(secret, headers, body, tolerance=SIGNATURE_TOLERANCE)
        except SignatureError as exc:
            raise ApiError(401, f"signature: {exc.reason}") from None
        return principal

    async def submit(self, request: Request) -> Response:
        body = await _read(request, self.api.max_body)
        key = request.headers.get("x-api-key", "")
        if not key:
            raise ApiError(401, "X-Api-Key required (a key of the system role)")
        headers = dict(request.headers.items())

        def run() -> EventOutcome:
            with self.api.pool.connection(timeout=self.api.db_timeout) as conn:
                principal = self._authenticate(conn, key, body, headers)
                data = _decode(body, request.headers.get("content-type", ""))
                event = parse_event(data, self.api.routing)
                if event.source != principal.source_system:
                    raise ApiError(403, f"this key sends events of {principal.source_system} only")
                canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
                try:
                    outcome = self.recorder.record(
                        conn,
                        event,
                        digest=hashlib.sha256(canonical).digest(),
                        key_name=principal.name,
                        payload=data,
                    )
                except EventConflict as exc:
                    raise ApiError(409, str(exc)) from None
                log.info(
                    "event %s/%s from %s: incident %s, appeal %s %s",
                    event.source,
                    event.event_id,
                    principal.name,
                    outcome.incident_id,
                    outcome.appeal_id,
                    "replayed" if outcome.replayed else outcome.outcome,
                )
                return outcome

        return _answer(await run_in_threadpool(run))


async def _read(request: Request, limit: int) -> bytes:
    from appeals._api import read_body  # _api registers this module's route

    return await read_body(request, limit)
