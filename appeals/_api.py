"""The governance center's HTTP API: Open311 GeoReport v2 plus operators' actions.

::

    GET  /open311/v2/services.{json|xml}             the services citizens can report to
    GET  /open311/v2/services/{code}.{json|xml}      one service's definition
    GET  /open311/v2/requests.{json|xml}             the queue, filtered and paged
    POST /open311/v2/requests.{json|xml}             a citizen's report (api_key: reporter)
    GET  /open311/v2/requests/{id}.{json|xml}        one request
    GET  /open311/v2/tokens/{token}.{json|xml}       the request a post's token names
    GET  /open311/v2/media/{key}.{jpg|png|webp}      a photo uploaded with a report
    GET  /api/v1/appeals/{id}                        an appeal with history and links (operator)
    GET  /api/v1/tension                             tension points (operator; _api_tension)
    POST /api/v1/appeals/{id}/{action}               accept|progress|resolve|reject|close (operator)
    POST /api/v1/appeals/{id}/transfer|notes|duplicates   see appeals._api_actions (operator)
    POST /api/v1/events                              another system's event (system; _events)
    GET  /api/v1/ratings                             agencies' ratings (operator; _api_ratings)
    GET  /health                                     the database answers
    GET  /openapi.json                               this API as OpenAPI 3

Every 4xx carries a message in Open311's error format, ``[{"code": 400, "description":
"…"}]``, or ``<errors><error>…`` when the path ends in ``.xml`` (unknown paths too); a
405 names the allowed methods in ``Allow``.  ``POST requests`` takes form fields (as the
specification says, urlencoded or multipart with a ``media`` photo) or a JSON object; a
body of any other type, or of none, is 415.  An ``Idempotency-Key`` header makes a
retried post return the first request instead of queueing a second.  Keys are sent as
the ``api_key`` field or the ``X-Api-Key`` header; they never reach a log.  A key limited
to an agency sees only that agency's appeals in ``/api/v1``; citizens' contact details
are shown only to their appeal's agency (see ``_scope``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
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
from starlette.routing import Match, Route

from appeals._auth import KeyStore, Principal, Role
from appeals._errors import ApiError, AppealNotFound, TransitionRefused
from appeals._events import EventIntake
from appeals._georeport import service_definition, to_xml, to_xml_object
from appeals._media import (
    MAX_MEDIA,
    Media,
    Upload,
    load_media,
    media_from,
    media_path,
    media_response,
    new_key,
    parse_multipart,
    store_media,
)
from appeals._openapi import openapi_document
from appeals._params import CONTROL as _CONTROL
from appeals._params import MAX_ID, parse_query
from appeals._params import coordinate as _coordinate
from appeals._params import int_param as _int
from appeals._params import query_params as _query
from appeals._params import text_field as _text
from appeals._requests import Report, count_cap, list_requests, submit_report
from appeals._routing import Routing
from appeals._scope import contacts, in_scope, with_contact
from appeals._store import appeal_payload, load_appeal, transition
from appeals._tokens import TOKEN, find_token, issue_token
from citypulse import Appeal, AppealStatus

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
_ACTIONS: Mapping[str, AppealStatus] = {
    "accept": AppealStatus.ACCEPTED,
    "progress": AppealStatus.IN_PROGRESS,
    "resolve": AppealStatus.RESOLVED,
    "reject": AppealStatus.REJECTED,
    "close": AppealStatus.CLOSED,
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
    # An unknown path has no {fmt}: its ending says what the client reads.
    fmt = request.path_params.get("fmt")
    if fmt is None:
        fmt = "xml" if request.url.path.lower().endswith(".xml") else "json"
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
    """Form-encoded or JSON-object fields as text (ApiError if neither or malformed); no
    body needs no type."""
    media = content_type.split(";", 1)[0].strip().lower()
    fields: dict[str, str] = {}
    if media == "application/x-www-form-urlencoded" or (media == "" and not body):
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
        raise ApiError(
            415,
            "send application/x-www-form-urlencoded, multipart/form-data or application/json",
        )
    return _texts(fields)


def _texts(fields: Mapping[str, str]) -> dict[str, str]:
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
        address_id=fields.get("address_id", ""),
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
    max_media: int = MAX_MEDIA
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

    async def _viewer(self, request: Request, params: Mapping[str, str]) -> Principal | None:
        """Who reads: None without a key; a key that is given must be valid (401)."""
        if not (request.headers.get("x-api-key") or params.get("api_key")):
            return None
        return await self._principal(request, "reporter", params)

    async def _fields(
        self, request: Request, *, photo: bool = False
    ) -> tuple[dict[str, str], Media | None]:
        """The body's fields and, where a ``photo`` is taken, its checked ``media``."""
        content_type = request.headers.get("content-type", "")
        uploads: list[Upload] = []
        if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
            fields = parse_fields(await read_body(request, self.max_body), content_type)
        else:
            body = await read_body(request, self.max_body + (self.max_media if photo else 0))
            raw, uploads = await parse_multipart(
                request.scope, body, max_fields=100, max_part_size=self.max_body
            )
            fields = _texts(raw)
        if not photo:
            if uploads:
                raise ApiError(400, "files: this request takes none")
            return fields, None
        return fields, media_from(fields, uploads, limit=self.max_media)

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
        params = _query(request)
        query = parse_query(params, self.routing)
        viewer = await self._viewer(request, params)

        def read(conn: psycopg.Connection[Any]) -> tuple[list[Appeal], int, dict[int, Any]]:
            appeals, total = list_requests(conn, query)
            return appeals, total, contacts(conn, appeals, viewer)

        appeals, total, shown = await self._db(read)
        return _render(
            request,
            "service_requests",
            "request",
            [with_contact(appeal_payload(a, self.routing), shown.get(a.id)) for a in appeals],
            headers={
                "X-Total-Count": str(total),
                "X-Total-Count-Capped": "true" if total >= count_cap(query) else "false",
            },
        )

    # GET requests/{id}
    async def one(self, request: Request) -> Response:
        _check_format(request)
        appeal_id = _int("service_request_id", str(request.path_params["id"]), 1, MAX_ID)
        params = _query(request)
        viewer = await self._viewer(request, params)

        def read(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            appeal = load_appeal(conn, appeal_id)
            shown = contacts(conn, [appeal], viewer)
            return with_contact(appeal_payload(appeal, self.routing), shown.get(appeal_id))

        try:
            row = await self._db(read)
        except AppealNotFound:
            raise ApiError(404, f"no service request {appeal_id}") from None
        return _render(request, "service_requests", "request", [row])

    # GET tokens/{token}
    async def token(self, request: Request) -> Response:
        _check_format(request)
        token = str(request.path_params["token"])
        if not TOKEN.fullmatch(token):
            raise ApiError(400, "token: 16 to 64 letters, digits, - or _")
        appeal_id = await self._db(lambda conn: find_token(conn, token))
        if appeal_id is None:
            raise ApiError(404, f"no token {token}")
        row = {"service_request_id": str(appeal_id), "token": token}
        return _render(request, "service_requests", "request", [row])

    # GET media/{key}.{ext}
    async def media(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        media = await self._db(lambda conn: load_media(conn, name))
        if media is None:
            raise ApiError(404, "no media here")
        return media_response(media)

    # POST requests
    async def create(self, request: Request) -> Response:
        _check_format(request)
        fields, media = await self._fields(request, photo=True)
        principal = await self._principal(request, "reporter", fields)
        report = parse_report(fields, self.routing, request.headers.get("idempotency-key"))
        key = new_key()
        if media is not None:
            url = str(request.base_url).rstrip("/") + media_path(key, media)
            report = replace(report, media_url=url)

        def submit(conn: psycopg.Connection[Any]) -> tuple[Appeal, bool, str]:
            appeal, created = submit_report(
                conn,
                report,
                routing=self.routing,
                connectors=self.connectors,
                channel=f"api:{principal.name}",
                actor=principal.name,
            )
            if created and media is not None:
                store_media(conn, key, appeal.id, media)
            return appeal, created, issue_token(conn, appeal.id)

        appeal, created, token = await self._db(submit)
        log.info(
            "service request %s %s by %s",
            appeal.id,
            "created" if created else "replayed",
            principal.name,
        )
        row = {
            "service_request_id": str(appeal.id),
            "token": token,
            "service_notice": "",
            "account_id": None,
        }
        return _render(request, "service_requests", "request", [row], 201 if created else 200)

    # GET /api/v1/appeals/{id}
    async def appeal(self, request: Request) -> Response:
        appeal_id = _int("id", str(request.path_params["id"]), 1, MAX_ID)
        principal = await self._principal(request, "operator")

        def read(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            appeal = load_appeal(conn, appeal_id)
            if not in_scope(principal, appeal.agency):  # 404: a 403 would tell it exists
                raise AppealNotFound(appeal_id)
            shown = contacts(conn, [appeal], principal).get(appeal_id)
            by_name = conn.cursor(row_factory=dict_row)
            events = [
                {**e, "time": e["time"].isoformat()}
                for e in by_name.execute(_EVENTS, (appeal_id,)).fetchall()
            ]
            links = by_name.execute(_LINKS, (appeal_id, appeal_id)).fetchall()
            payload = with_contact(appeal_payload(appeal, self.routing), shown)
            return {**payload, "events": events, "links": links}

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
        fields, _ = await self._fields(request)
        principal = await self._principal(request, "operator", fields)
        note = fields.get("note", "")

        def act(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            current = load_appeal(conn, appeal_id, lock=True)
            if not in_scope(principal, current.agency):  # as if it did not exist
                raise AppealNotFound(appeal_id)
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
    from appeals._api_ratings import get_ratings
    from appeals._api_tension import list_tension

    v2 = "/open311/v2"
    routes = [
        Route("/health", api.health, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route(v2 + "/services.{fmt}", api.services, methods=["GET"]),
        Route(v2 + "/services/{code}.{fmt}", api.service, methods=["GET"]),
        Route(v2 + "/requests.{fmt}", api.list, methods=["GET"]),
        Route(v2 + "/requests.{fmt}", api.create, methods=["POST"]),
        Route(v2 + "/requests/{id}.{fmt}", api.one, methods=["GET"]),
        Route(v2 + "/tokens/{token}.{fmt}", api.token, methods=["GET"]),
        Route(v2 + "/media/{name}", api.media, methods=["GET"]),
        Route("/api/v1/appeals/{id}", api.appeal, methods=["GET"]),
        Route("/api/v1/tension", partial(list_tension, api), methods=["GET"]),
        *(
            Route(f"/api/v1/appeals/{{id}}/{name}", partial(handler, api), methods=["POST"])
            for name, handler in (
                ("transfer", transfer_appeal),
                ("notes", note_appeal),
                ("duplicates", duplicate_appeal),
            )
        ),
        Route("/api/v1/appeals/{id}/{action}", api.act, methods=["POST"]),
        Route("/api/v1/events", EventIntake(api).submit, methods=["POST"]),
        Route("/api/v1/ratings", partial(get_ratings, api), methods=["GET"]),
    ]

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(request, exc.status, exc.description, **exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        text = {404: "no such resource", 405: "method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        if exc.status_code == 405:
            return error_response(request, 405, text, Allow=_allowed(request))
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


def _allowed(request: Request) -> str:
    """Every method some route serves at this path (one path may have several routes)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))
