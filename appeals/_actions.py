"""Operators' actions beside status changes: transfer to another agency, a note, and
marking an appeal a duplicate of another.

Like :func:`appeals._store.transition`, each works in the caller's transaction, writes
a history entry (the appeal keeps its status; the note says what happened) and an
``updated`` outbox row per connector, so the governance center's own system and the
webhooks hear of it.  Refusals are :class:`TransitionRefused` (the appeal's state does
not allow it) or :class:`ValueError` (the request itself is wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from appeals._errors import AppealNotFound, TransitionRefused
from appeals._routing import Routing
from appeals._store import (
    COLUMNS,
    FINAL,
    add_event,
    appeal_from_row,
    enqueue,
    load_appeal,
    record_update,
)
from citypulse import Appeal

_SET_AGENCY = f"""
UPDATE appeals SET agency = %(agency)s, updated_at = now() WHERE id = %(id)s
RETURNING {COLUMNS}
"""  # noqa: S608 - constants only
_SET_GROUP = f"""
UPDATE appeals SET group_id = %(group)s, updated_at = now() WHERE id = %(id)s
RETURNING {COLUMNS}
"""  # noqa: S608 - constants only
# The appeal's own duplicates follow it into the new group (a group has one first appeal).
_REGROUP = "UPDATE appeals SET group_id = %(group)s, updated_at = now() WHERE group_id = %(id)s"
_LINK = """
INSERT INTO appeal_links (appeal_id, linked_id, reason) VALUES (%s, %s, 'duplicate')
ON CONFLICT (appeal_id, linked_id) DO UPDATE SET reason = 'duplicate'
"""
_TOUCH = f"UPDATE appeals SET updated_at = now() WHERE id = %s RETURNING {COLUMNS}"  # noqa: S608


def agencies(routing: Routing) -> tuple[str, ...]:
    """The agencies the routing knows, sorted: where an appeal may be transferred."""
    names = {r.agency for r in (*routing.routes.values(), *routing.by_kind.values())}
    return tuple(sorted(n for n in names if n))


def _ru(routing: Routing) -> bool:
    return routing.locale == "ru"


def _refuse_final(appeal: Appeal, action: str) -> None:
    if appeal.status in FINAL:
        raise TransitionRefused(appeal.id, appeal.status.value, action)


def _updated(row: dict[str, Any] | None, appeal_id: int) -> Appeal:
    if row is None:  # pragma: no cover - the row is locked by load_appeal
        raise AppealNotFound(appeal_id)
    return appeal_from_row(row)


def transfer(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    agency: str,
    *,
    reason: str,
    actor: str,
    connectors: Sequence[str],
    routing: Routing,
) -> Appeal:
    """Hand an open appeal to ``agency`` (one the routing knows) with a ``reason``."""
    if agency not in agencies(routing):
        raise ValueError("agency: not one of the agencies the routing knows")
    if not reason.strip():
        raise ValueError("reason: required")
    current = load_appeal(conn, appeal_id, lock=True)
    _refuse_final(current, "transferred")
    if current.agency == agency:
        raise ValueError("agency: the appeal is already there")
    cur = conn.cursor(row_factory=dict_row)
    updated = _updated(
        cur.execute(_SET_AGENCY, {"agency": agency, "id": appeal_id}).fetchone(), appeal_id
    )
    before = current.agency or "—"
    note = (
        f"Передано: {before} → {agency}. Причина: {reason}"
        if _ru(routing)
        else f"Transferred: {before} → {agency}. Reason: {reason}"
    )
    record_update(conn, updated, note, actor, connectors=connectors, routing=routing)
    return updated


def add_note(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    note: str,
    *,
    actor: str,
    connectors: Sequence[str],
    routing: Routing,
) -> Appeal:
    """An operator's note in the appeal's history (any status, closed ones too)."""
    if not note.strip():
        raise ValueError("note: required")
    load_appeal(conn, appeal_id, lock=True)
    row = conn.cursor(row_factory=dict_row).execute(_TOUCH, (appeal_id,)).fetchone()
    updated = _updated(row, appeal_id)
    record_update(conn, updated, note, actor, connectors=connectors, routing=routing)
    return updated


def mark_duplicate(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    original_id: int,
    *,
    note: str,
    actor: str,
    connectors: Sequence[str],
    routing: Routing,
) -> Appeal:
    """Mark ``appeal_id`` a duplicate of ``original_id``: it joins the original's group
    (``group_id`` is the group's first appeal), a ``duplicate`` link joins the two, and
    both histories say so.  The duplicate keeps its status: closing or rejecting it is
    the operator's next decision."""
    if appeal_id == original_id:
        raise ValueError("duplicate_of: an appeal cannot duplicate itself")
    # Lock in id order, so two operators linking the same pair both ways cannot deadlock.
    first, second = sorted((appeal_id, original_id))
    locked = {first: load_appeal(conn, first, lock=True)}
    locked[second] = load_appeal(conn, second, lock=True)
    current, original = locked[appeal_id], locked[original_id]
    group = original.group_id or original.id
    if group == appeal_id:
        raise TransitionRefused(appeal_id, "the first of its group", f"a duplicate of {group}")
    cur = conn.cursor(row_factory=dict_row)
    updated = _updated(cur.execute(_SET_GROUP, {"group": group, "id": appeal_id}).fetchone(), 0)
    conn.execute(_REGROUP, {"group": group, "id": appeal_id})
    conn.execute(_LINK, (appeal_id, original_id))
    ru = _ru(routing)
    said = (
        f"Дубликат обращения №{original_id}" if ru else f"A duplicate of appeal {original_id}"
    ) + (f". {note}" if note else "")
    seq = add_event(conn, appeal_id, current.status.value, said, actor)
    told = f"Обращение №{appeal_id} — его дубликат" if ru else f"Appeal {appeal_id} duplicates it"
    add_event(conn, original_id, original.status.value, told, actor)
    enqueue(
        conn, updated, event="updated", seq=seq, connectors=connectors, routing=routing, note=said
    )
    return updated
