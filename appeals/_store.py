"""The appeals store: insert, load, status transitions, history and outbox rows.

Every function works in the caller's transaction and never commits, so an appeal, its
first event and its outbox rows commit together with whatever caused them (an incident,
a citizen's report, an operator's action) or not at all.

Status transitions (an operator's action or the sensors)::

    new ─┬─ accepted ─┬─ in_progress ─┬─ resolved ── closed
         │            │               │      └──── in_progress (reopened)
         └────────────┴───────────────┴─ rejected | closed

An appeal that becomes ``closed`` or ``rejected`` closes its incident (``closed_by``
names the actor), so the detectors' view matches the governance center's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row, scalar_row
from psycopg.types.json import Jsonb

from appeals._errors import AppealNotFound, TransitionRefused
from appeals._georeport import service_request
from appeals._routing import Routing
from citypulse import Appeal, AppealSource, AppealStatus
from citypulse.db import scalar

OUTBOX_EVENTS = ("created", "updated")
FINAL = frozenset({AppealStatus.CLOSED, AppealStatus.REJECTED})

_ALLOWED: Mapping[AppealStatus, frozenset[AppealStatus]] = {
    AppealStatus.NEW: frozenset(
        {
            AppealStatus.ACCEPTED,
            AppealStatus.IN_PROGRESS,
            AppealStatus.RESOLVED,
            AppealStatus.REJECTED,
            AppealStatus.CLOSED,
        }
    ),
    AppealStatus.ACCEPTED: frozenset(
        {
            AppealStatus.IN_PROGRESS,
            AppealStatus.RESOLVED,
            AppealStatus.REJECTED,
            AppealStatus.CLOSED,
        }
    ),
    AppealStatus.IN_PROGRESS: frozenset(
        {AppealStatus.RESOLVED, AppealStatus.REJECTED, AppealStatus.CLOSED}
    ),
    AppealStatus.RESOLVED: frozenset({AppealStatus.CLOSED, AppealStatus.IN_PROGRESS}),
    AppealStatus.CLOSED: frozenset(),
    AppealStatus.REJECTED: frozenset(),
}


def next_statuses(status: AppealStatus) -> frozenset[AppealStatus]:
    """Where an appeal in ``status`` may go (the module docstring's diagram)."""
    return _ALLOWED[status]


# What every appeal query selects: columns named as Appeal's fields, read by those names.
COLUMNS = (
    "id, source, sector, service_code, title, description, status, requested_at, priority, "
    "agency, channel, external_id, lat, lon, address, address_id, needs_location, district, "
    "locale, expected_at, "
    "accepted_at, resolved_at, closed_at, evidence, incident_id, group_id, "
    "confirmed_by_sensors, media_url"
)
_NAMES = tuple(COLUMNS.split(", "))
_SELECT_ONE = f"SELECT {COLUMNS} FROM appeals WHERE id = %s"  # noqa: S608 - constants only
# One round trip: the appeal and its first history entry; nothing on a repeated external id.
# The appeal is dated by its evidence when the draft carries a time (never later than the
# transaction's now()), else by now(); the deadline and the first history entry run from
# that date.
_CREATE = f"""
WITH t AS (
    SELECT least(coalesce(%(requested_at)s::timestamptz, now()), now()) AS at
), a AS (
    INSERT INTO appeals (source, channel, external_id, sector, service_code, title,
                         description, lat, lon, address, address_id, district, priority,
                         agency, locale, requested_at, expected_at, evidence, incident_id,
                         media_url, contact)
    SELECT %(source)s, %(channel)s, %(external_id)s, %(sector)s, %(service_code)s,
           %(title)s, %(description)s, %(lat)s, %(lon)s, %(address)s, %(address_id)s,
           %(district)s, %(priority)s, %(agency)s, %(locale)s, t.at, t.at + %(deadline)s,
           %(evidence)s, %(incident_id)s, %(media_url)s, %(contact)s
    FROM t
    ON CONFLICT (channel, external_id) DO NOTHING
    RETURNING {COLUMNS}
), e AS (
    INSERT INTO appeal_events (appeal_id, time, status, note, actor)
    SELECT id, requested_at, 'new', %(note)s, %(actor)s FROM a
    RETURNING id
)
SELECT a.*, e.id AS event_id FROM a, e
"""  # noqa: S608 - constants only
_BY_EXTERNAL = "SELECT id FROM appeals WHERE channel = %s AND external_id = %s"
_EVENT = """
INSERT INTO appeal_events (appeal_id, time, status, note, actor)
VALUES (%s, least(coalesce(%s::timestamptz, now()), now()), %s, %s, %s)
RETURNING id
"""
_OUTBOX = """
INSERT INTO outbox (appeal_id, connector, event, idempotency_key, payload)
SELECT %s, connector, %s, %s, %s FROM unnest(%s::text[]) AS c (connector)
ON CONFLICT (connector, idempotency_key) DO NOTHING
"""
# A transition happens now, or at the time its evidence gives (the sensors saw a fault
# end), never later than now nor before the appeal's own earlier steps.
_TRANSITION = f"""
UPDATE appeals SET status = %(status)s, updated_at = now(),
    accepted_at = CASE WHEN %(status)s IN ('accepted', 'in_progress', 'resolved', 'closed')
                       THEN coalesce(accepted_at, t.at) ELSE accepted_at END,
    resolved_at = CASE WHEN %(status)s IN ('resolved', 'closed')
                       THEN coalesce(resolved_at, t.at)
                       WHEN %(status)s = 'in_progress' THEN NULL ELSE resolved_at END,
    closed_at = CASE WHEN %(status)s IN ('closed', 'rejected') THEN t.at ELSE closed_at END
FROM (
    SELECT greatest(least(coalesce(%(at)s::timestamptz, now()), now()),
                    requested_at, accepted_at, resolved_at) AS at
    FROM appeals WHERE id = %(id)s
) AS t
WHERE id = %(id)s
RETURNING {COLUMNS}, t.at AS at
"""  # noqa: S608 - constants only
# The incident behind an appeal that closed (by an operator, or by the remote system).
CLOSE_INCIDENT = """
UPDATE incidents SET status = 'closed', closed_by = %(actor)s, updated_at = now(),
    resolved_at = coalesce(resolved_at, now()),
    note = CASE WHEN note = '' THEN %(note)s ELSE note || E'\\n' || %(note)s END
WHERE id = (SELECT incident_id FROM appeals WHERE id = %(appeal)s) AND status <> 'closed'
"""


@dataclass(frozen=True, slots=True)
class AppealDraft:
    """What a new appeal is made of, before it has an id."""

    source: AppealSource
    sector: str
    service_code: str
    title: str
    description: str
    agency: str
    priority: int
    deadline: timedelta | None
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    address_id: str = ""
    district: str = ""
    locale: str = "ru"
    evidence: Mapping[str, object] = field(default_factory=dict)
    incident_id: int | None = None
    channel: str = "citypulse"
    external_id: str | None = None
    media_url: str | None = None
    contact: Mapping[str, str] = field(default_factory=dict)
    # When the problem was seen (a sensor appeal: the reading time of the alarm that
    # opened its incident; an imported report: its own time); None: now.
    requested_at: datetime | None = None


def _plain(value: object) -> object:
    """JSON-safe: non-finite floats become null (jsonb refuses NaN), unknown types text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _jsonable(value: Mapping[str, object]) -> Jsonb:
    # Evidence comes from detectors: a NaN or a datetime must not fail the incident's
    # transaction, so everything is made plain JSON first.
    return Jsonb(_plain(value))


def appeal_from_row(row: Mapping[str, Any]) -> Appeal:
    """An :class:`Appeal` from a row holding :data:`COLUMNS`, read by name (``dict_row``)."""
    by_name: dict[str, Any] = {name: row[name] for name in _NAMES}
    by_name["source"] = AppealSource(row["source"])
    by_name["status"] = AppealStatus(row["status"])
    by_name["evidence"] = row["evidence"] or {}
    return Appeal(**by_name)


def load_appeal(conn: psycopg.Connection[Any], appeal_id: int, *, lock: bool = False) -> Appeal:
    query = _SELECT_ONE + (" FOR UPDATE" if lock else "")
    row = conn.cursor(row_factory=dict_row).execute(query, (appeal_id,)).fetchone()
    if row is None:
        raise AppealNotFound(appeal_id)
    return appeal_from_row(row)


def add_event(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    status: str,
    note: str,
    actor: str,
    *,
    at: datetime | None = None,
) -> int:
    """Record a history entry (at ``at``, never later than now; None: now); return its id
    (it makes the outbox idempotency key)."""
    return int(scalar(conn, _EVENT, (appeal_id, at, status, note, actor)))


def idempotency_key(appeal_id: int, event: str, seq: int) -> str:
    """Stable for a given appeal event (``seq`` is the appeal_events id), so a retried
    delivery is recognised downstream."""
    return f"appeal-{appeal_id}-{event}-{seq}"


def appeal_payload(appeal: Appeal, routing: Routing, note: str = "") -> dict[str, Any]:
    """The appeal as a service request named after its service: the API's answer and the
    outbox payload alike."""
    service = routing.service(appeal.service_code)
    return service_request(
        appeal, service_name=service.service_name if service else "", status_notes=note
    )


def enqueue(
    conn: psycopg.Connection[Any],
    appeal: Appeal,
    *,
    event: str,
    seq: int,
    connectors: Sequence[str],
    routing: Routing,
    note: str = "",
) -> None:
    """One outbox row per configured connector for this appeal event."""
    if event not in OUTBOX_EVENTS:
        raise ValueError(f"unknown outbox event {event!r}")
    if not connectors:
        return
    payload = appeal_payload(appeal, routing, note)
    key = idempotency_key(appeal.id, event, seq)
    conn.execute(_OUTBOX, (appeal.id, event, key, _jsonable(payload), list(connectors)))


def record_update(
    conn: psycopg.Connection[Any],
    appeal: Appeal,
    note: str,
    actor: str,
    *,
    connectors: Sequence[str],
    routing: Routing,
    at: datetime | None = None,
) -> None:
    """A history entry for ``appeal`` as it now is (its status, ``note``, ``actor``; at
    ``at`` as :func:`add_event` dates it) and its ``updated`` outbox rows carrying the note."""
    seq = add_event(conn, appeal.id, appeal.status.value, note, actor, at=at)
    enqueue(
        conn, appeal, event="updated", seq=seq, connectors=connectors, routing=routing, note=note
    )


def create_appeal(
    conn: psycopg.Connection[Any],
    draft: AppealDraft,
    *,
    note: str,
    actor: str,
    connectors: Sequence[str],
    routing: Routing,
) -> tuple[Appeal, bool]:
    """Insert ``draft`` with its first history entry and ``created`` outbox rows; return
    the appeal and whether it is new.  A repeated (channel, external_id) is not inserted
    twice: the first appeal comes back with ``created`` false."""
    cur = conn.cursor(row_factory=dict_row)
    row = cur.execute(
        _CREATE,
        {
            "source": draft.source.value,
            "channel": draft.channel,
            "external_id": draft.external_id,
            "sector": draft.sector,
            "service_code": draft.service_code,
            "title": draft.title,
            "description": draft.description,
            "lat": draft.lat,
            "lon": draft.lon,
            "address": draft.address,
            "address_id": draft.address_id,
            "district": draft.district,
            "priority": draft.priority,
            "agency": draft.agency,
            "locale": draft.locale,
            "deadline": draft.deadline,
            "evidence": _jsonable(draft.evidence),
            "incident_id": draft.incident_id,
            "media_url": draft.media_url,
            "contact": Jsonb(dict(draft.contact)),
            "requested_at": draft.requested_at,
            "note": note,
            "actor": actor,
        },
    ).fetchone()
    if row is None:
        ids = conn.cursor(row_factory=scalar_row)
        existing = ids.execute(_BY_EXTERNAL, (draft.channel, draft.external_id)).fetchone()
        if existing is None:  # pragma: no cover - the conflicting row is visible to us
            raise AppealNotFound(0)
        return load_appeal(conn, int(existing)), False
    appeal, seq = appeal_from_row(row), int(row["event_id"])
    enqueue(conn, appeal, event="created", seq=seq, connectors=connectors, routing=routing)
    return appeal, True


def transition(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    target: AppealStatus,
    *,
    note: str,
    actor: str,
    connectors: Sequence[str],
    routing: Routing,
    at: datetime | None = None,
) -> Appeal:
    """Move an appeal to ``target`` (see the module docstring), note it, queue an update,
    and close the incident behind a closed or rejected sensor appeal.  ``at`` dates the
    step by its evidence (the sensors saw the fault end then): never later than now, nor
    before the appeal's earlier steps; None: now."""
    current = load_appeal(conn, appeal_id, lock=True)
    if target not in _ALLOWED[current.status]:
        raise TransitionRefused(appeal_id, current.status.value, target.value)
    cur = conn.cursor(row_factory=dict_row)
    row = cur.execute(_TRANSITION, {"status": target.value, "id": appeal_id, "at": at}).fetchone()
    if row is None:  # pragma: no cover - the row is locked above
        raise AppealNotFound(appeal_id)
    updated = appeal_from_row(row)
    seq = add_event(conn, appeal_id, target.value, note, actor, at=row["at"])
    if target in FINAL and current.incident_id is not None:
        verb = "closed" if target is AppealStatus.CLOSED else "rejected"
        close_incident(
            conn,
            appeal_id,
            actor=actor,
            note=f"appeal {appeal_id} {verb} by {actor}" + (f": {note}" if note else ""),
        )
    enqueue(
        conn, updated, event="updated", seq=seq, connectors=connectors, routing=routing, note=note
    )
    return updated


def close_incident(conn: psycopg.Connection[Any], appeal_id: int, *, actor: str, note: str) -> None:
    """Close the sensor incident behind ``appeal_id`` (if any, and not closed yet)."""
    conn.execute(CLOSE_INCIDENT, {"actor": actor, "appeal": appeal_id, "note": note})


_APPEAL_CLOSED = """
UPDATE appeals SET status = 'closed', closed_at = coalesce(closed_at, now()), updated_at = now()
WHERE id = %(appeal)s AND status NOT IN ('closed', 'rejected')
"""
_APPEAL_EVENT = """
INSERT INTO appeal_events (appeal_id, status, note, actor)
SELECT id, status, %(note)s, %(actor)s FROM appeals WHERE id = %(appeal)s
"""


def record_remote_event(
    conn: psycopg.Connection[Any], appeal_id: int, *, actor: str, note: str, closed: bool
) -> None:
    """A remote system's status change: an event in the appeal's history, and when the
    remote closed it, the appeal (and the sensor incident behind it) closed too, as an
    operator's close does."""
    if closed:
        conn.execute(_APPEAL_CLOSED, {"appeal": appeal_id})
        close_incident(conn, appeal_id, actor=actor, note=note)
    conn.execute(_APPEAL_EVENT, {"appeal": appeal_id, "note": note, "actor": actor})
