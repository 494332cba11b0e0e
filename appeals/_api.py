"""The governance center's HTTP API: Open311 GeoReport v2 plus operators' actions.

::

    GET  /open311/v2/services.{json|xml}             the services citizens can report to
    GET  /open311/v2/services/{code}.{json|xml}      one service's definition
    GET  /open311/v2/requests.{json|xml}             the queue, filtered and paged
    POST /open311/v2/requests.{json|xml}             a citizen's report (api_key: reporter)
    GET  /open311/v2/requests/{id}.{json|xml}        one request
    GET  /api/v1/appeals/{id}                        an appeal with history and links (operator)
    POST /api/v1/appeals/{id}/{action}               accept|progress|resolve|reject|close (operator)
    POST /api/v1/appeals/{id}/transfer|notes|duplicates   see appeals._api_actions (operator)
    GET  /health                                     the database answers
    GET  /openapi.json                               this API as OpenAPI 3

Every 4xx carries a message in Open311's error format, ``[{"code": 400, "description":
"…"}]`` (``<errors><error>…`` for ``.xml``).  ``POST requests`` takes form fields (as the
specification says) or a JSON object; an ``Idempotency-Key`` header makes a retried post
return the first request instead of queueing a second.  Keys are sent as the ``api_key``
field or the ``X-Api-Key`` header; they never reach a log.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import psycopg
import psycopg_pool
from psycopg.rows import dict_row
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appeals._auth import KeyStore, Principal, Role
from appeals._errors import ApiError, AppealNotFound, TransitionRefused
from appeals._georeport import service_definition, to_xml, to_xml_object
from appeals._openapi import openapi_document
from appeals._requests import (
    Report,
    RequestQuery,
    count_cap,
    list_requests,
    submit_report,
)
from appeals._routing import Routing
from appeals._store import appeal_payload, load_appeal, transition
from citypulse import AppealStatus

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_ID = 2**63 - 1
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
DEFAULT_WINDOW = timedelta(days=90)  # GeoReport v2: without dates, the last 90 days
_ACTIONS: Mapping[str, AppealStatus] = {
    "accept": AppealStatus.ACCEPTED,
    "progress": AppealStatus.IN_PROGRESS,
    "resolve": AppealStatus.RESOLVED,
    "reject": AppealStatus.REJECTED,
    "close": AppealStatus.CLOSED,
}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_FIELD_LIMITS = {
    "api_key": 512,
    "service_code": 64,
    "description": 4000,
    "address_string": 500,
    "address_id": 100,
    "email": 254,
    "device_id": 100,
    "account_id": 100,
    "first_name": 100,
    "last_name": 100,
    "phone": 40,
    "media_url": 2048,
    "lat": 40,
    "long": 40,
    "jurisdiction_id": 100,
    "note": 2000,
    "reason": 2000,
}
_CONTACT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
_EVENTS = "SELECT time, status, note, actor FROM appeal_events WHERE appeal_id = %s ORDER BY id"
_LINKS = """
SELECT appeal_id, linked_id, reason, distance_m FROM appeal_links
WHERE appeal_id = %s OR linked_id = %s ORDER BY created_at, appeal_id, linked_id
"""


def _check_format(request: Request) -> None:
    if request.path_params.get("fmt", "json") not in ("json", "xml"):
        raise ApiError(404, "format: .json or .xml")


def _fmt(request: Request) -> str:
    fmt = str(request.path_params.get("fmt", "json"))
    return fmt if fmt in ("json", "xml") else "json"


def _json(data: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def _render(
    request: Request,
    root: str,
    item: str,
    rows: Sequence[Mapping[str, object]],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if _fmt(request) == "xml":
        return Response(
            to_xml(root, item, rows),
            status_code=status,
            media_type="text/xml; charset=utf-8",
            headers=headers,
        )
    return _json(list(rows), status, headers)


def error_response(request: Request, status: int, description: str, **headers: str) -> Response:
    body = [{"code": status, "description": description}]
    return _render(request, "errors", "error", body, status, headers or None)


# --- input ------------------------------------------------------------------------------


def _text(name: str, value: str) -> str:
    limit = _FIELD_LIMITS.get(name, 1000 if name.startswith("attribute[") else 200)
    if len(value) > limit:
        raise ApiError(400, f"{name}: at most {limit} characters")
    if _CONTROL.search(value):
        raise ApiError(400, f"{name}: control characters are not allowed")
    return value.strip()


def _query(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in out:
            raise ApiError(400, f"{key}: given more than once")
        out[key] = _text(key, value)
    return out


def _int(name: str, raw: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,19}", raw):
        raise ApiError(400, f"{name}: expected an integer, got {raw[:40]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"{name}: must be between {low} and {high}")
    return value


def _date(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, f"{name}: expected a W3C date-time like 2026-11-25T08:14:00+03:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not datetime(1970, 1, 2, tzinfo=UTC) <= value <= datetime(9999, 1, 1, tzinfo=UTC):
        raise ApiError(400, f"{name}: out of range")
    return value


def _coordinate(name: str, raw: str, bound: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, f"{name}: expected a number, got {raw[:40]!r}") from None
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise ApiError(400, f"{name}: must be between -{bound:g} and {bound:g}")
    return value


def parse_query(params: Mapping[str, str], routing: Routing) -> RequestQuery:
    """``GET requests`` parameters -> a validated :class:`RequestQuery` (ApiError if bad)."""
    ids: tuple[int, ...] = ()
    if params.get("service_request_id"):
        raw_ids = [p.strip() for p in params["service_request_id"].split(",") if p.strip()]
        if len(raw_ids) > MAX_PAGE_SIZE:
            raise ApiError(400, f"service_request_id: at most {MAX_PAGE_SIZE} ids")
        ids = tuple(_int("service_request_id", p, 1, MAX_ID) for p in raw_ids)
    codes: tuple[str, ...] = ()
    if params.get("service_code"):
        codes = tuple(c.strip() for c in params["service_code"].split(",") if c.strip())
        for code in codes:
            if routing.service(code) is None:
                raise ApiError(400, f"service_code: unknown service {code[:64]!r}")
    start = _date("start_date", params["start_date"]) if params.get("start_date") else None
    end = _date("end_date", params["end_date"]) if params.get("end_date") else None
    if start is not None and end is not None and end < start:
        raise ApiError(400, "end_date is before start_date")
    if start is None and end is None and not ids:
        start = datetime.now(UTC) - DEFAULT_WINDOW
    statuses: tuple[str, ...] = ()
    if params.get("status"):
        statuses = tuple(s.strip() for s in params["status"].split(",") if s.strip())
        bad = [s for s in statuses if s not in ("open", "closed")]
        if bad:
            raise ApiError(400, "status: expected open, closed or both (comma-separated)")
    source = params.get("source") or None
    if source is not None and source not in ("sensor", "citizen"):
        raise ApiError(400, "source: expected sensor or citizen")
    sector = params.get("sector") or None
    if sector is not None and sector not in routing.sectors:
        raise ApiError(400, "sector: not one of the sector blocks (see GET services, group)")
    overdue: bool | None = None
    if params.get("overdue"):
        flag = params["overdue"].lower()
        if flag not in ("true", "false", "1", "0"):
            raise ApiError(400, "overdue: expected true or false")
        overdue = flag in ("true", "1")
    return RequestQuery(
        ids=ids,
        service_codes=codes,
        start=start,
        end=end,
        statuses=statuses,
        source=source,
        sector=sector,
        agency=params.get("agency") or None,
        district=params.get("district") or None,
        external_id=params.get("external_id") or None,
        overdue=overdue,
        page=_int("page", params["page"], 1, MAX_PAGE) if params.get("page") else 1,
        page_size=_int("page_size", params["page_size"], 1, MAX_PAGE_SIZE)
        if params.get("page_size")
        else DEFAULT_PAGE_SIZE,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) more than ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_fields(body: bytes, content_type: str) -> dict[str, str]:
    """Form-encoded or JSON-object fields as text (ApiError if neither or malformed)."""
    media = content_type.split(";", 1)[0].strip().lower()
    fields: dict[str, str] = {}
    if media in ("", "application/x-www-form-urlencoded"):
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=100, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "body: not UTF-8 form fields (at most 100)") from None
        for key, value in pairs:
            fields.setdefault(key, value)
    elif media == "application/json":
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise ApiError(400, "body: not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "body: expected a JSON object")
        if len(data) > 100:
            raise ApiError(400, "body: at most 100 fields")
        for key, value in data.items():
            if isinstance(value, dict | list):
                raise ApiError(400, f"{key[:40]}: expected a string or a number")
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            fields[key] = str(value)
    else:
        raise ApiError(415, "send application/x-www-form-urlencoded or application/json")
    return {k: _text(k, v) for k, v in fields.items() if len(k) <= 100}


def parse_report(fields: Mapping[str, str], routing: Routing, idem: str | None) -> Report:
    code = fields.get("service_code", "")
    if not code:
        raise ApiError(400, "service_code: required (see GET services)")
    if routing.service(code) is None:
        raise ApiError(400, f"service_code: unknown service {code[:64]!r}")
    lat = lon = None
    if fields.get("lat") or fields.get("long"):
        if not (fields.get("lat") and fields.get("long")):
            raise ApiError(400, "lat and long: give both or neither")
        lat = _coordinate("lat", fields["lat"], 90)
        lon = _coordinate("long", fields["long"], 180)
    address = fields.get("address_string", "")
    if lat is None and not address and not fields.get("address_id"):
        raise ApiError(400, "location: lat and long, address_string or address_id required")
    media = fields.get("media_url") or None
    if media is not None:
        try:
            parts = urlsplit(media)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ApiError(400, "media_url: expected an http(s) URL")
    attributes = {
        k[len("attribute[") : -1]: v
        for k, v in fields.items()
        if k.startswith("attribute[") and k.endswith("]") and len(k) > len("attribute[]")
    }
    # Another citypulse (or any client) may say who it is in attribute[external_id].
    idem = idem if idem is not None else attributes.get("external_id")
    if idem is not None and (len(idem) > 200 or _CONTROL.search(idem) or not idem.strip()):
        raise ApiError(400, "Idempotency-Key: 1 to 200 printable characters")
    priority = None
    if attributes.get("priority"):
        priority = _int("attribute[priority]", attributes["priority"], 1, 4)
    title = attributes.get("title") or None
    if title is not None and len(title) > 500:
        raise ApiError(400, "attribute[title]: at most 500 characters")
    return Report(
        service_code=code,
        description=fields.get("description", ""),
        lat=lat,
        lon=lon,
        address=address,
        media_url=media,
        contact={k: fields[k] for k in _CONTACT_FIELDS if fields.get(k)},
        idempotency_key=idem,
        title=title,
        priority=priority,
        attributes=attributes,
    )


# --- the application ----------------------------------------------------------------------


@dataclass(kw_only=True)
class Api:
    """The API over one connection pool (which the caller opens and closes); :meth:`app`
    builds the ASGI application."""

    pool: psycopg_pool.ConnectionPool[Any]
    routing: Routing
    keys: KeyStore
    connectors: Sequence[str] = ()
    max_body: int = MAX_BODY
    db_timeout: float = 5.0

    def __post_init__(self) -> None:
        self.connectors = tuple(self.connectors)
        self._services = [service_definition(s) for s in self.routing.services]

    def _db(self, fn: Callable[[psycopg.Connection[Any]], Any]) -> Awaitable[Any]:
        def run() -> Any:
            with self.pool.connection(timeout=self.db_timeout) as conn:
                return fn(conn)

        return run_in_threadpool(run)

    async def _principal(
        self, request: Request, role: Role, fields: Mapping[str, str] | None = None
    ) -> Principal:
        key = request.headers.get("x-api-key") or (fields or {}).get("api_key", "")
        if not key:
            raise ApiError(401, "api_key required (form field api_key or header X-Api-Key)")
        principal: Principal | None = self.keys.lookup(None, key)
        if principal is None:
            principal = await self._db(lambda conn: self.keys.lookup(conn, key))
        if principal is None:
            raise ApiError(401, "api_key is not valid")
        if not principal.may(role):
            raise ApiError(403, f"this key's role is {principal.role}; {role} is required")
        return principal

    # GET /health
    async def health(self, request: Request) -> Response:
        await self._db(lambda conn: conn.execute("SELECT 1").fetchone())
        return _json({"status": "ok", "database": "ok"})

    async def openapi(self, request: Request) -> Response:
        return _json(openapi_document())

    # GET services
    async def services(self, request: Request) -> Response:
        _check_format(request)
        return _render(request, "services", "service", self._services)

    # GET services/{code}
    async def service(self, request: Request) -> Response:
        _check_format(request)
        code = str(request.path_params["code"])
        service = self.routing.service(code)
        if service is None:
            raise ApiError(404, f"no service {code[:64]!r}")
        definition = {"service_code": service.service_code, "attributes": []}
        if _fmt(request) == "xml":
            return Response(
                to_xml_object("service_definition", definition),
                media_type="text/xml; charset=utf-8",
            )
        return _json(definition)

    # GET requests
    async def list(self, request: Request) -> Response:
        _check_format(request)
        query = parse_query(_query(request), self.routing)
        appeals, total = await self._db(lambda conn: list_requests(conn, query))
        return _render(
            request,
            "service_requests",
            "request",
            [appeal_payload(a, self.routing) for a in appeals],
            headers={
                "X-Total-Count": str(total),
                "X-Total-Count-Capped": "true" if total >= count_cap(query) else "false",
            },
        )

    # GET requests/{id}
    async def one(self, request: Request) -> Response:
        _check_format(request)
        appeal_id = _int("service_request_id", str(request.path_params["id"]), 1, MAX_ID)
        try:
            appeal = await self._db(lambda conn: load_appeal(conn, appeal_id))
        except AppealNotFound:
            raise ApiError(404, f"no service request {appeal_id}") from None
        return _render(
            request, "service_requests", "request", [appeal_payload(appeal, self.routing)]
        )

    # POST requests
    async def create(self, request: Request) -> Response:
        _check_format(request)
        body = await read_body(request, self.max_body)
        fields = parse_fields(body, request.headers.get("content-type", ""))
        principal = await self._principal(request, "reporter", fields)
        report = parse_report(fields, self.routing, request.headers.get("idempotency-key"))
        appeal, created = await self._db(
            lambda conn: submit_report(
                conn,
                report,
                routing=self.routing,
                connectors=self.connectors,
                channel=f"api:{principal.name}",
                actor=principal.name,
            )
        )
        log.info(
            "service request %s %s by %s",
            appeal.id,
            "created" if created else "replayed",
            principal.name,
        )
        row = {"service_request_id": str(appeal.id), "service_notice": "", "account_id": None}
        return _render(request, "service_requests", "request", [row], 201 if created else 200)

    # GET /api/v1/appeals/{id}
    async def appeal(self, request: Request) -> Response:
        appeal_id = _int("id", str(request.path_params["id"]), 1, MAX_ID)
        await self._principal(request, "operator")

        def read(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            appeal = load_appeal(conn, appeal_id)
            by_name = conn.cursor(row_factory=dict_row)
            events = [
                {**e, "time": e["time"].isoformat()}
                for e in by_name.execute(_EVENTS, (appeal_id,)).fetchall()
            ]
            links = by_name.execute(_LINKS, (appeal_id, appeal_id)).fetchall()
            return {**appeal_payload(appeal, self.routing), "events": events, "links": links}

        try:
            return _json(await self._db(read))
        except AppealNotFound:
            raise ApiError(404, f"no appeal {appeal_id}") from None

    # POST /api/v1/appeals/{id}/{action}
    async def act(self, request: Request) -> Response:
        appeal_id = _int("id", str(request.path_params["id"]), 1, MAX_ID)
        target = _ACTIONS.get(str(request.path_params["action"]))
        if target is None:
            raise ApiError(404, f"actions are {', '.join(_ACTIONS)}")
        body = await read_body(request, self.max_body)
        fields = parse_fields(body, request.headers.get("content-type", ""))
        principal = await self._principal(request, "operator", fields)
        note = fields.get("note", "")

        def act(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            current = load_appeal(conn, appeal_id, lock=True)
            if principal.agency and current.agency != principal.agency:
                raise ApiError(403, "this key acts only on its agency's appeals")
            updated = transition(
                conn,
                appeal_id,
                target,
                note=note,
                actor=principal.name,
                connectors=self.connectors,
                routing=self.routing,
            )
            return appeal_payload(updated, self.routing, note)

        try:
            result = await self._db(act)
        except AppealNotFound:
            raise ApiError(404, f"no appeal {appeal_id}") from None
        except TransitionRefused as exc:
            raise ApiError(409, str(exc)) from None
        log.info("appeal %s -> %s by %s", appeal_id, target.value, principal.name)
        return _json(result)

    def app(self) -> Starlette:
        """The ASGI application: routes, and Open311 errors for every refusal."""
        return _application(self)


def _application(api: Api) -> Starlette:
    from appeals._api_actions import duplicate_appeal, note_appeal, transfer_appeal

    v2 = "/open311/v2"
    routes = [
        Route("/health", api.health, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route(v2 + "/services.{fmt}", api.services, methods=["GET"]),
        Route(v2 + "/services/{code}.{fmt}", api.service, methods=["GET"]),
        Route(v2 + "/requests.{fmt}", api.list, methods=["GET"]),
        Route(v2 + "/requests.{fmt}", api.create, methods=["POST"]),
        Route(v2 + "/requests/{id}.{fmt}", api.one, methods=["GET"]),
        Route("/api/v1/appeals/{id}", api.appeal, methods=["GET"]),
        *(
            Route(f"/api/v1/appeals/{{id}}/{name}", partial(handler, api), methods=["POST"])
            for name, handler in (
                ("transfer", transfer_appeal),
                ("notes", note_appeal),
                ("duplicates", duplicate_appeal),
            )
        ),
        Route("/api/v1/appeals/{id}/{action}", api.act, methods=["POST"]),
    ]

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(request, exc.status, exc.description, **exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        text = {404: "no such resource", 405: "method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        return error_response(request, exc.status_code, text)

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            request, 503, "database unavailable, retry later", **{"Retry-After": "5"}
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(request, 500, "internal error")

    return Starlette(
        routes=routes,
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            psycopg_pool.PoolTimeout: unavailable,
            psycopg.OperationalError: unavailable,
            Exception: crashed,
        },
    )
