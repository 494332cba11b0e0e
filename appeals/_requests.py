"""The queue as the Open311 API sees it: listing with filters, and citizens' reports.

Filters arrive already validated (see ``_api``); SQL is composed from constant fragments
and every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, scalar_row

from appeals._correlate import correlate
from appeals._errors import UnknownService
from appeals._routing import Routing
from appeals._store import COLUMNS, AppealDraft, appeal_from_row, create_appeal, load_appeal
from citypulse import Appeal, AppealSource, AppealStatus

OPEN_STATUSES = tuple(s.value for s in AppealStatus if s.is_open)
CLOSED_STATUSES = tuple(s.value for s in AppealStatus if not s.is_open)

# Outside every district boundary: the district of the nearest registered device within
# about 2 km of a report's location.
_NEAREST_DISTRICT = """
SELECT district FROM devices
WHERE lat BETWEEN %(lat)s - 0.02 AND %(lat)s + 0.02
  AND lon BETWEEN %(lon)s - 0.035 AND %(lon)s + 0.035 AND district <> ''
ORDER BY power(lat - %(lat)s, 2) + power((lon - %(lon)s) * cos(radians(%(lat)s)), 2)
LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """``GET requests`` filters (Open311's, then citypulse's extras) and paging."""

    ids: tuple[int, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()  # open, closed
    source: str | None = None
    sector: str | None = None
    agency: str | None = None
    district: str | None = None
    external_id: str | None = None
    overdue: bool | None = None
    needs_location: bool | None = None
    page: int = 1
    page_size: int = 100


@dataclass(frozen=True, slots=True)
class Report:
    """A citizen's report as ``POST requests`` carries it (validated)."""

    service_code: str
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    address_id: str = ""  # GeoReport v2: an address id instead of coordinates
    media_url: str | None = None
    contact: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    title: str | None = None  # attribute[title], e.g. from another citypulse
    priority: int | None = None  # attribute[priority]
    attributes: Mapping[str, str] = field(default_factory=dict)  # every attribute[...]


def _where(q: RequestQuery) -> tuple[sql.Composable, list[object]]:
    parts: list[sql.Composable] = []
    params: list[object] = []

    def add(fragment: str, *values: object) -> None:
        parts.append(sql.SQL(fragment))  # constant fragments only
        params.extend(values)

    if q.ids:  # the specification: with ids, the other filters are ignored
        add("id = ANY(%s)", list(q.ids))
    else:
        if q.service_codes:
            add("service_code = ANY(%s)", list(q.service_codes))
        if q.start is not None:
            add("requested_at >= %s", q.start)
        if q.end is not None:
            add("requested_at <= %s", q.end)
        if set(q.statuses) == {"open"}:
            add("status = ANY(%s)", list(OPEN_STATUSES))
        elif set(q.statuses) == {"closed"}:
            add("status = ANY(%s)", list(CLOSED_STATUSES))
        if q.source is not None:
            add("source = %s", q.source)
        if q.sector is not None:
            add("sector = %s", q.sector)
        if q.agency is not None:
            add("agency = %s", q.agency)
        if q.district is not None:
            add("district = %s", q.district)
        if q.external_id is not None:
            add("external_id = %s", q.external_id)
        if q.needs_location is not None:
            add("needs_location = %s", q.needs_location)
        if q.overdue is not None:
            add(
                "(expected_at IS NOT NULL AND expected_at < now() AND status <> ALL(%s)) = %s",
                list(CLOSED_STATUSES),
                q.overdue,
            )
    if not parts:
        return sql.SQL("true"), params
    return sql.SQL(" AND ").join(parts), params


COUNT_AT_LEAST = 1000


def count_cap(q: RequestQuery) -> int:
    """Counting stops here: enough for the pages around this one, cheap on a huge queue."""
    return max(COUNT_AT_LEAST, (q.page + 10) * q.page_size)


def list_requests(conn: psycopg.Connection[Any], q: RequestQuery) -> tuple[list[Appeal], int]:
    """One page of matching appeals, newest first, and how many match, counted up to
    :func:`count_cap` (a count equal to the cap means "at least")."""
    where, params = _where(q)
    count = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM appeals WHERE {} LIMIT %s) AS m")
    total = (
        conn.cursor(row_factory=scalar_row)
        .execute(count.format(where), [*params, count_cap(q)])
        .fetchone()
    )
    page = sql.SQL(
        "SELECT {} FROM appeals WHERE {} ORDER BY requested_at DESC, id DESC LIMIT %s OFFSET %s"
    ).format(sql.SQL(COLUMNS), where)  # COLUMNS is a constant
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(page, [*params, q.page_size, (q.page - 1) * q.page_size])
        .fetchall()
    )
    return [appeal_from_row(r) for r in rows], int(total or 0)


def report_district(conn: psycopg.Connection[Any], routing: Routing, lat: float, lon: float) -> str:
    """The name of the district whose boundary holds the point; outside them all, the
    nearest registered device's; "" when neither is known."""
    slug = routing.district_at(lat, lon)
    if slug is None:
        nearest = conn.cursor(row_factory=scalar_row).execute(
            _NEAREST_DISTRICT, {"lat": lat, "lon": lon}
        )
        slug = nearest.fetchone()
    return routing.district_name(slug) if slug is not None else ""


def submit_report(
    conn: psycopg.Connection[Any],
    report: Report,
    *,
    routing: Routing,
    connectors: Sequence[str],
    channel: str,
    actor: str,
    received_at: datetime | None = None,
) -> tuple[Appeal, bool]:
    """Queue a citizen's report (same queue, same rules as sensor appeals: routed by its
    service to a sector block, agency, priority and deadline); return it and whether it
    is new.  A repeated ``idempotency_key`` from the same channel returns the first one.
    A report without coordinates is queued all the same, for an operator to place.

    ``received_at`` is for trusted importers only (the lab, an importer of another
    system's appeals), never taken from the public API: the report keeps its own time
    (never later than now) for its deadline, history and correlation; None: now."""
    service = routing.service(report.service_code)
    route = routing.route_for_service(report.service_code)
    if service is None or route is None:
        raise UnknownService(report.service_code)
    district = ""
    if report.lat is not None and report.lon is not None:
        district = report_district(conn, routing, report.lat, report.lon)
    summary = " ".join(report.description.split())[:120]
    title = f"{service.service_name}: {summary}" if summary else service.service_name
    if (report.address or report.address_id) and not summary:
        title += f", {report.address or report.address_id}"
    title = report.title or title
    note = (
        f"Обращение гражданина, канал {channel}"
        if routing.locale == "ru"
        else f"Citizen report via {channel}"
    )
    appeal, created = create_appeal(
        conn,
        AppealDraft(
            source=AppealSource.CITIZEN,
            sector=service.group,
            service_code=service.service_code,
            title=title,
            description=report.description,
            agency=route.agency,
            priority=report.priority or route.priority,
            deadline=route.deadline,
            lat=report.lat,
            lon=report.lon,
            address=report.address,
            address_id=report.address_id,
            district=district,
            locale=routing.locale,
            channel=channel,
            external_id=report.idempotency_key,
            media_url=report.media_url,
            contact=report.contact,
            evidence={"attributes": dict(report.attributes)} if report.attributes else {},
            requested_at=received_at,
        ),
        note=note,
        actor=actor,
        connectors=connectors,
        routing=routing,
    )
    if created:
        correlate(conn, appeal.id, routing.correlation, actor="citypulse", appeal=appeal)
        appeal = load_appeal(conn, appeal.id)
    return appeal, created
