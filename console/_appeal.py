"""One appeal as the console shows it: the appeal, its history, its linked appeals, and
for a sensor appeal the device and a chart of its readings around the incident."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from appeals import AppealNotFound, Routing, format_number, format_unit, load_appeal
from citypulse import Appeal, DeviceKind
from citypulse.db import READING_TABLES
from citypulse.render import Band, Chart, Series, Threshold, legend, line_chart

BEFORE = timedelta(hours=2)  # readings shown before the incident started
AFTER = timedelta(hours=1)  # and after its last alarm (or until now)
MAX_POINTS = 720

_EVENTS = """
SELECT time, status, note, actor FROM appeal_events WHERE appeal_id = %s ORDER BY id
"""
_LINKS = """
SELECT a.id, a.title, a.status, a.source, a.agency, l.reason, l.distance_m,
       l.appeal_id = %(id)s AS outgoing
FROM appeal_links l
JOIN appeals a ON a.id = CASE WHEN l.appeal_id = %(id)s THEN l.linked_id ELSE l.appeal_id END
WHERE (l.appeal_id = %(id)s OR l.linked_id = %(id)s)
  AND (%(scope)s::text IS NULL OR a.agency = %(scope)s)
ORDER BY l.created_at, a.id
"""
# Citizens' contact details: the console's users are operators of the appeal's agency (or
# of none), whom the API shows them to as well (appeals._scope.sees_contact).
_CONTACT = "SELECT contact FROM appeals WHERE id = %s"
_CONTACT_ORDER = ("first_name", "last_name", "phone", "email", "account_id", "device_id")
_DEVICE = """
SELECT id, kind, name, address, online, status_changed_at, last_seen FROM devices WHERE id = %s
"""
_NUMERIC = """
SELECT 1 FROM information_schema.columns
WHERE table_name = %s AND column_name = %s
  AND data_type IN ('real', 'double precision', 'integer', 'smallint', 'bigint', 'numeric')
"""
# Lanes of a camera are averaged into one line; the table and column are identifiers
# checked against the schema above, the values are parameters.
_READINGS = """
SELECT time, avg({column})::float8 AS value FROM {table}
WHERE device_id = %s AND time >= %s AND time < %s
GROUP BY time ORDER BY time LIMIT 20000
"""


@dataclass(frozen=True, slots=True)
class Event:
    time: datetime
    status: str
    note: str
    actor: str


@dataclass(frozen=True, slots=True)
class Linked:
    id: int
    title: str
    status: str
    source: str
    agency: str
    reason: str
    distance_m: float | None
    outgoing: bool


@dataclass(frozen=True, slots=True)
class DeviceState:
    id: str
    kind: str
    name: str
    address: str
    online: bool | None
    status_changed_at: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class Evidence:
    """The chart (inline SVG, escaped by the chart module) and its legend, or nothing."""

    svg: str
    legend: str
    start: datetime
    end: datetime
    points: int


@dataclass(frozen=True, slots=True)
class AppealView:
    appeal: Appeal
    events: tuple[Event, ...]
    links: tuple[Linked, ...]
    device: DeviceState | None
    evidence: Evidence | None
    grafana_url: str
    contact: str = ""


def _time(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _metric(evidence: Mapping[str, object]) -> str:
    facts = evidence.get("facts")
    if isinstance(facts, Mapping):
        metric = facts.get("metric")
        if isinstance(metric, str):
            return metric
    return ""


def _readings(
    conn: psycopg.Connection[Any], device: DeviceState, metric: str, start: datetime, end: datetime
) -> list[tuple[datetime, float | None]]:
    try:
        table = READING_TABLES[DeviceKind(device.kind)]
    except ValueError:
        return []
    if not metric or conn.execute(_NUMERIC, (table, metric)).fetchone() is None:
        return []
    query = sql.SQL(_READINGS).format(column=sql.Identifier(metric), table=sql.Identifier(table))
    rows = conn.cursor(row_factory=dict_row).execute(query, (device.id, start, end)).fetchall()
    points = [(r["time"], r["value"]) for r in rows]
    step = max(1, len(points) // MAX_POINTS)
    return points[::step]


def _recorded(evidence: Mapping[str, object]) -> list[tuple[datetime, float | None]]:
    """The readings the detector kept in the incident's evidence (when the table has none)."""
    facts = evidence.get("facts")
    kept = facts.get("readings") if isinstance(facts, Mapping) else None
    out: list[tuple[datetime, float | None]] = []
    if isinstance(kept, Sequence):
        for item in kept:
            if isinstance(item, Sequence) and len(item) == 2:
                t = _time(item[0])
                if t is not None:
                    out.append((t, _float(item[1])))
    return out


def _chart(
    appeal: Appeal,
    points: Sequence[tuple[datetime, float | None]],
    routing: Routing,
    lang: str,
    labels: Mapping[str, str],
) -> Evidence | None:
    values = [v for _, v in points if v is not None]
    if not values:
        return None
    ev = appeal.evidence
    unit = format_unit(str(ev.get("unit") or ""), lang)
    start, end = points[0][0], points[-1][0]
    if end <= start:
        end = start + timedelta(minutes=1)
    chart = Chart(
        start=start,
        end=end,
        tz=routing.zone,
        width=880,
        height=260,
        number=lambda v: format_number(v, lang),
    )
    series = [Series(labels["series"], points)]
    thresholds = []
    limit = _float(ev.get("limit_value"))
    if limit is not None:
        thresholds.append(
            Threshold(limit, f"{labels['threshold']} {format_number(limit, lang)} {unit}".strip())
        )
    low = min([*values, *(t.value for t in thresholds)])
    started = _time(ev.get("started_at"))
    last = _time(ev.get("last_alarm_at")) or started
    bands = [Band(started, last, labels["incident"])] if started and last else []
    svg = line_chart(
        chart,
        series,
        unit=unit or labels["series"],
        thresholds=thresholds,
        y_min=min(0.0, low),
        bands=bands,
    )
    return Evidence(svg, legend([*series, *thresholds]), start, end, len(values))


def load_view(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    *,
    scope: str | None,
    routing: Routing,
    lang: str,
    labels: Mapping[str, str],
) -> AppealView:
    """The appeal page's data; :class:`appeals.AppealNotFound` when there is none in
    ``scope`` (an agency-limited operator's agency), so that others' appeals look absent."""
    appeal = load_appeal(conn, appeal_id)
    if scope is not None and appeal.agency != scope:
        raise AppealNotFound(appeal_id)
    by_name = conn.cursor(row_factory=dict_row)
    events = tuple(Event(**r) for r in by_name.execute(_EVENTS, (appeal_id,)).fetchall())
    links = tuple(
        Linked(**r) for r in by_name.execute(_LINKS, {"id": appeal_id, "scope": scope}).fetchall()
    )
    found = conn.cursor().execute(_CONTACT, (appeal_id,)).fetchone()
    contact = found[0] if found is not None and isinstance(found[0], dict) else {}
    ev = appeal.evidence
    device = None
    evidence = None
    device_id = ev.get("device_id")
    if isinstance(device_id, str):
        row = by_name.execute(_DEVICE, (device_id,)).fetchone()
        device = DeviceState(**row) if row is not None else None
    if device is not None:
        started = _time(ev.get("started_at")) or appeal.requested_at
        last = _time(ev.get("last_alarm_at")) or started
        points = _readings(conn, device, _metric(ev), started - BEFORE, last + AFTER)
        evidence = _chart(appeal, points or _recorded(ev), routing, lang, labels)
    grafana = ev.get("grafana_url")
    return AppealView(
        appeal=appeal,
        events=events,
        links=links,
        device=device,
        evidence=evidence,
        grafana_url=grafana if isinstance(grafana, str) and grafana.startswith("http") else "",
        contact=", ".join(str(contact[k]) for k in _CONTACT_ORDER if contact.get(k)),
    )
