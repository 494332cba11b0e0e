"""The console's tension points (точки напряжённости): ``GET /console/tension``.

Active points first, then those that ended within the period, each with its
explanation in the reader's language, its score, start and end in the region's zone and
links to its member appeals.  Filters come from the query string: ``period`` (active:
only active points; 1d, 7d, 30d: those active at some time in the last day, week or 30
days; default 7d), ``sector``, ``district`` and ``kind``.  An agency-limited operator
sees the points that hold its agency's appeals, with only those (the API's rule,
``appeals.analysis.agency_points``).  ``console._app`` adds the route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from appeals import Routing, analysis, format_number
from appeals.analysis import TensionKind, TensionPoint, TensionQuery
from console._app import PREFIX, Console
from console._errors import BadFilter
from console._queue import Choices

PERIODS = {"active": None, "1d": timedelta(days=1), "7d": timedelta(days=7),
           "30d": timedelta(days=30)}  # fmt: skip
DEFAULT_PERIOD = "7d"
KINDS = tuple(k.value for k in TensionKind)
LIMIT = 500
_FIELDS = ("period", "sector", "district", "kind")


@dataclass(frozen=True, slots=True)
class TensionFilters:
    """The page's filters; empty means any."""

    period: str = DEFAULT_PERIOD
    sector: str = ""
    district: str = ""
    kind: str = ""

    def query(self, now: datetime) -> TensionQuery:
        span = PERIODS[self.period]
        return TensionQuery(
            since=now if span is None else now - span,
            sector=self.sector or None,
            district=self.district or None,
            kind=TensionKind(self.kind) if self.kind else None,
            limit=LIMIT,
        )


@dataclass(frozen=True, slots=True)
class TensionRow:
    """One point as the page shows it."""

    id: int
    kind: str
    sector: str
    district: str
    explanation: str
    score: float
    score_text: str
    started_at: datetime
    ended_at: datetime | None
    appeal_ids: tuple[int, ...]
    lat: float | None
    lon: float | None

    @property
    def active(self) -> bool:
        return self.ended_at is None


def parse_tension_filters(params: Sequence[tuple[str, str]], options: Choices) -> TensionFilters:
    """The query string -> :class:`TensionFilters`; :class:`BadFilter` names a bad one."""
    seen: dict[str, str] = {}
    for name, value in params:
        if name not in _FIELDS:
            continue
        if name in seen:
            raise BadFilter(name, "given more than once")
        seen[name] = value.strip()[:201]
    allowed = {"period": tuple(PERIODS), "sector": options.sectors,
               "district": options.districts, "kind": KINDS}  # fmt: skip
    for name, value in seen.items():
        if value and value not in allowed[name]:
            raise BadFilter(name, f"not one of the {name} values")
    return TensionFilters(
        period=seen.get("period") or DEFAULT_PERIOD,
        sector=seen.get("sector", ""),
        district=seen.get("district", ""),
        kind=seen.get("kind", ""),
    )


def _row(point: TensionPoint, lang: str, routing: Routing) -> TensionRow:
    return TensionRow(
        id=point.id,
        kind=point.kind.value,
        sector=point.sector,
        district=point.district,
        explanation=analysis.explain(point, lang, routing),
        score=point.score,
        score_text=format_number(point.score, lang),
        started_at=point.started_at,
        ended_at=point.ended_at,
        appeal_ids=point.appeal_ids,
        lat=point.lat,
        lon=point.lon,
    )


def tension_rows(
    conn: psycopg.Connection[Any],
    filters: TensionFilters,
    *,
    scope: str | None,
    routing: Routing,
    lang: str,
    now: datetime,
) -> list[TensionRow]:
    """The points the page lists, active ones first, then newest first."""
    points = analysis.agency_points(conn, analysis.load_points(conn, filters.query(now)), scope)
    rows = [_row(p, lang, routing) for p in points]
    return sorted(rows, key=lambda r: not r.active)  # stable: newest first within each


async def tension_page(console: Console, request: Request) -> Response:
    """``GET /console/tension``."""
    session = await console._session(request)
    if session is None:
        return RedirectResponse(PREFIX + "/login", 303)
    try:
        filters = parse_tension_filters(request.query_params.multi_items(), console._choices)
    except BadFilter as exc:
        return console._refusal(request, 400, f"bad_filter:{exc}", session)
    lang = console._lang(request)
    now = datetime.now(UTC)
    rows = await console._db(
        lambda conn: tension_rows(
            conn, filters, scope=session.agency, routing=console.routing, lang=lang, now=now
        )
    )
    return console._page(
        request,
        "tension.html",
        session=session,
        filters=filters,
        options=console._choices,
        periods=tuple(PERIODS),
        kinds=KINDS,
        active=[r for r in rows if r.active],
        ended=[r for r in rows if not r.active],
        limit=LIMIT,
    )
