"""``GET /api/v1/tension``: the tension points (точки напряжённости) for a period, each
with its explanation in the reader's language (operator key).

Parameters, each optional and checked here (400 with a message naming it):
``since`` and ``until`` (W3C date-times: the points that were active at some time in
[since, until); without either, the last 7 days and every active point), ``sector`` (a
sector block of the routing file), ``district`` (a district's name or slug), ``kind``
(surge, cluster or recurrence), ``lang`` (ru or en; without it the first of ru or en in
``Accept-Language``, else the routing file's locale) and ``limit`` (1 to 1000, default 500).
The answer is a JSON array, newest first, and says its language in ``Content-Language``.

A key limited to an agency sees the points that hold at least one appeal of its agency,
with only its agency's appeals in ``appeal_ids`` (``appeals.analysis.agency_points``).
``appeals._api`` adds the route, importing this module when it builds the application.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response

from appeals._api import Api, _json
from appeals._errors import ApiError
from appeals._params import date_param, int_param, query_params
from appeals._routing import Routing
from appeals.analysis import (
    TensionKind,
    TensionPoint,
    TensionQuery,
    agency_points,
    explain,
    load_points,
)

DEFAULT_WINDOW = timedelta(days=7)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
_PARAMS = frozenset({"since", "until", "sector", "district", "kind", "lang", "limit", "api_key"})
_LANG = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?")


@dataclass(frozen=True, slots=True)
class TensionRequest:
    """``GET /api/v1/tension``'s parameters, checked."""

    query: TensionQuery
    lang: str


def negotiate(header: str, default: str) -> str:
    """``ru`` or ``en``: the first of them by preference in an ``Accept-Language`` header,
    else ``default``."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")[:20]):
        m = _LANG.match(part)
        if m is None:
            continue
        try:
            q = float(m.group(2)) if m.group(2) else 1.0
        except ValueError:
            continue
        lang = m.group(1).lower()
        if lang in ("ru", "en") and q > 0:
            ranked.append((-q, n, lang))
    return min(ranked)[2] if ranked else default


def _district(raw: str, routing: Routing) -> str:
    """A district's name as stored on appeals, given its name or its slug."""
    if raw in routing.districts:
        return routing.districts[raw]
    if raw in routing.districts.values() or not routing.districts:
        return raw
    raise ApiError(400, "district: not one of the routing file's districts (name or slug)")


def parse_tension(
    params: Mapping[str, str], routing: Routing, *, accept_language: str = "", now: datetime
) -> TensionRequest:
    """The parameters -> a :class:`TensionRequest` (ApiError 400 with a message if bad)."""
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise ApiError(400, f"{unknown[0][:40]}: not a parameter of this request")
    since = date_param("since", params["since"]) if "since" in params else None
    until = date_param("until", params["until"]) if "until" in params else None
    if since is None and until is None:
        since = now - DEFAULT_WINDOW
    if since is not None and until is not None and until <= since:
        raise ApiError(400, "until: must be after since")
    sector = params.get("sector") or None
    if sector is not None and sector not in routing.sectors:
        raise ApiError(400, "sector: not one of the sector blocks (see GET services, group)")
    kind = None
    if params.get("kind"):
        try:
            kind = TensionKind(params["kind"])
        except ValueError:
            raise ApiError(400, "kind: expected surge, cluster or recurrence") from None
    lang = params.get("lang") or negotiate(accept_language, routing.locale)
    if lang not in ("ru", "en"):
        raise ApiError(400, "lang: expected ru or en")
    limit = DEFAULT_LIMIT
    if params.get("limit"):
        limit = int_param("limit", params["limit"], 1, MAX_LIMIT)
    district = _district(params["district"], routing) if params.get("district") else None
    query = TensionQuery(
        since=since, until=until, sector=sector, district=district, kind=kind, limit=limit
    )
    return TensionRequest(query=query, lang=lang)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def tension_item(point: TensionPoint, lang: str, routing: Routing) -> dict[str, Any]:
    """One point as the API answers it."""
    return {
        "id": point.id,
        "kind": point.kind.value,
        "sector": point.sector,
        "district": point.district,
        "service_code": point.service_code,
        "device_id": point.device_id,
        "lat": point.lat,
        "lon": point.lon,
        "score": round(point.score, 3),
        "started_at": _iso(point.started_at),
        "ended_at": _iso(point.ended_at),
        "detected_at": _iso(point.detected_at),
        "active": point.active,
        "explanation": explain(point, lang, routing),
        "appeal_ids": list(point.appeal_ids),
    }


async def list_tension(api: Api, request: Request) -> Response:
    """``GET /api/v1/tension``."""
    params = query_params(request)
    principal = await api._principal(request, "operator", params)
    parsed = parse_tension(
        params,
        api.routing,
        accept_language=request.headers.get("accept-language", ""),
        now=datetime.now(UTC),
    )

    def read(conn: psycopg.Connection[Any]) -> list[TensionPoint]:
        return agency_points(conn, load_points(conn, parsed.query), principal.agency)

    points = await api._db(read)
    items = [tension_item(p, parsed.lang, api.routing) for p in points]
    return _json(items, headers={"Content-Language": parsed.lang, "Vary": "Accept-Language"})
