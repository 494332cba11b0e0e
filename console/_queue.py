"""The console's queue: every source's appeals together, open and urgent ones first.

Order: open appeals (new, accepted, in progress) before finished ones; among them the
higher priority first, then the newest.  Filters come from the page's query string,
validated by :func:`parse_filters` (:class:`BadFilter` names the bad one); the SQL is
composed from constant fragments and every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, scalar_row

from appeals import Routing, agencies
from citypulse import AppealSource, AppealStatus
from console._errors import BadFilter

PAGE_SIZE = 50
MAX_PAGE = 10_000
OPEN = tuple(s.value for s in AppealStatus if s.is_open)
# The SLA view's "open": a resolved appeal is no longer running against its deadline.
RUNNING = ("new", "accepted", "in_progress")
_FIELDS = ("sector", "district", "agency", "status", "source", "overdue", "page")

_ROWS = """
SELECT id, source, sector, title, status, priority, agency, district, address,
       requested_at, expected_at, resolved_at, closed_at, group_id,
       (SELECT i.device_id FROM incidents i WHERE i.id = appeals.incident_id) AS device_id,
       (status = ANY(%s) AND expected_at IS NOT NULL AND expected_at < now()) AS overdue,
       now() AS now
FROM appeals WHERE {where}
ORDER BY {order}
LIMIT %s OFFSET %s
"""
#: open appeals first; when the filter keeps open ones only, the order of
#: appeals_queue_open (sql/0018), which the planner then reads instead of sorting
_ORDER_MIXED = "(status = ANY(%s)) DESC, priority DESC, requested_at DESC, id DESC"
_ORDER_OPEN = "priority DESC, requested_at DESC, id DESC"
_COUNT = "SELECT count(*) FROM appeals WHERE {where}"


@dataclass(frozen=True, slots=True)
class Filters:
    """The queue's filters; ``None`` or empty means any."""

    sector: str = ""
    district: str = ""
    agency: str = ""
    status: str = "open"  # open | closed | all | one AppealStatus value
    source: str = ""
    overdue: bool | None = None
    page: int = 1

    def query(self, **changes: object) -> dict[str, str]:
        """Query parameters for a link to these filters (with ``changes``)."""
        values = {name: getattr(self, name) for name in _FIELDS} | changes
        out: dict[str, str] = {}
        for name, value in values.items():
            if value is None or value == "" or (name == "page" and value == 1):
                continue
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if out.get("status") == "open":
            del out["status"]
        return out


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    source: str
    sector: str
    title: str
    status: str
    priority: int
    agency: str
    district: str
    address: str
    requested_at: datetime
    expected_at: datetime | None
    finished_at: datetime | None
    group_id: int | None
    overdue: bool
    now: datetime
    device_id: str | None = None  # a sensor appeal's device

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    @property
    def seconds_left(self) -> float | None:
        """Seconds to the deadline (negative when overdue); None without one or when done."""
        if self.expected_at is None or not self.running:
            return None
        return (self.expected_at - self.now).total_seconds()


@dataclass(frozen=True, slots=True)
class Choices:
    """What the filters offer."""

    sectors: tuple[str, ...]
    districts: tuple[str, ...]
    agencies: tuple[str, ...]
    statuses: tuple[str, ...]
    sources: tuple[str, ...]


def choices(routing: Routing) -> Choices:
    return Choices(
        sectors=routing.sectors,
        districts=tuple(sorted(set(routing.districts.values()))),
        agencies=agencies(routing),
        statuses=("open", "closed", "all", *(s.value for s in AppealStatus)),
        sources=tuple(s.value for s in AppealSource),
    )


def parse_filters(params: Sequence[tuple[str, str]], options: Choices) -> Filters:
    """The page's query parameters -> :class:`Filters`; :class:`BadFilter` if one is wrong."""
    seen: dict[str, str] = {}
    for name, value in params:
        if name not in _FIELDS:
            continue  # lang and the like; not filters
        if name in seen:
            raise BadFilter(name, "given more than once")
        if len(value) > 200:
            raise BadFilter(name, "too long")
        seen[name] = value.strip()

    def pick(name: str, allowed: Sequence[str]) -> str:
        value = seen.get(name, "")
        if value and value not in allowed:
            raise BadFilter(name, f"not one of the {name} values")
        return value

    overdue = None
    if seen.get("overdue"):
        if seen["overdue"] not in ("true", "false"):
            raise BadFilter("overdue", "expected true or false")
        overdue = seen["overdue"] == "true"
    page = 1
    if seen.get("page"):
        raw = seen["page"]
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            raise BadFilter("page", f"expected a number from 1 to {MAX_PAGE}")
        page = int(raw)
    return Filters(
        sector=pick("sector", options.sectors),
        district=pick("district", options.districts),
        agency=pick("agency", options.agencies),
        status=pick("status", options.statuses) or "open",
        source=pick("source", options.sources),
        overdue=overdue,
        page=page,
    )


def where_clause(f: Filters, scope: str | None) -> tuple[sql.Composable, list[object]]:
    parts: list[sql.Composable] = []
    params: list[object] = []

    def add(fragment: str, *values: object) -> None:
        parts.append(sql.SQL(fragment))  # constant fragments only
        params.extend(values)

    if scope is not None:
        add("agency = %s", scope)
    for column in ("sector", "district", "agency", "source"):
        value = getattr(f, column)
        if value:
            add(f"{column} = %s", value)
    if f.status == "open":
        add("status = ANY(%s)", list(OPEN))
    elif f.status == "closed":
        add("status <> ALL(%s)", list(OPEN))
    elif f.status != "all":
        add("status = %s", f.status)
    if f.overdue is not None:
        add(
            "(status = ANY(%s) AND expected_at IS NOT NULL AND expected_at < now()) = %s",
            list(RUNNING),
            f.overdue,
        )
    if not parts:
        return sql.SQL("true"), params
    return sql.SQL(" AND ").join(parts), params


def order_clause(f: Filters) -> tuple[sql.Composable, list[object]]:
    """The queue's order (open appeals first, then the most urgent, the newest) and its
    parameters; without the open-first key when ``f`` keeps open appeals only."""
    if f.status == "open" or f.status in OPEN:
        return sql.SQL(_ORDER_OPEN), []
    return sql.SQL(_ORDER_MIXED), [list(OPEN)]


def _row(r: Mapping[str, Any]) -> QueueRow:
    return QueueRow(
        id=r["id"],
        source=r["source"],
        sector=r["sector"],
        title=r["title"],
        status=r["status"],
        priority=r["priority"],
        agency=r["agency"],
        district=r["district"],
        address=r["address"],
        requested_at=r["requested_at"],
        expected_at=r["expected_at"],
        finished_at=r["closed_at"] or r["resolved_at"],
        group_id=r["group_id"],
        overdue=r["overdue"],
        now=r["now"],
        device_id=r["device_id"],
    )


def queue_page(
    conn: psycopg.Connection[Any], f: Filters, *, scope: str | None
) -> tuple[list[QueueRow], int]:
    """One page of the queue and how many appeals match; ``scope`` limits it to an agency."""
    where, params = where_clause(f, scope)
    total = (
        conn.cursor(row_factory=scalar_row)
        .execute(sql.SQL(_COUNT).format(where=where), params)
        .fetchone()
    )
    order, order_params = order_clause(f)
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            sql.SQL(_ROWS).format(where=where, order=order),
            [list(RUNNING), *params, *order_params, PAGE_SIZE, (f.page - 1) * PAGE_SIZE],
        )
        .fetchall()
    )
    return [_row(r) for r in rows], int(total or 0)
