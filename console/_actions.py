"""Operators' actions from the console, through the same ``appeals`` functions the API
uses, so each writes history and the outbox alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from appeals import (
    AppealNotFound,
    Principal,
    Routing,
    TransitionRefused,
    add_note,
    agencies,
    load_appeal,
    mark_duplicate,
    transfer,
    transition,
)
from citypulse import AppealStatus
from console._errors import Refused

#: every action the console offers; a status change names its target status
ACTIONS: Mapping[str, AppealStatus | None] = {
    "accept": AppealStatus.ACCEPTED,
    "progress": AppealStatus.IN_PROGRESS,
    "resolve": AppealStatus.RESOLVED,
    "close": AppealStatus.CLOSED,
    "reject": AppealStatus.REJECTED,
    "transfer": None,
    "note": None,
    "duplicate": None,
}
MAX_TEXT = 2000


def _text(fields: Mapping[str, str], name: str, *, required: str = "") -> str:
    value = fields.get(name, "").strip()
    if len(value) > MAX_TEXT:
        raise Refused(400, f"{name}: at most {MAX_TEXT} characters")
    if required and not value:
        raise Refused(400, required)
    return value


def perform(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    action: str,
    fields: Mapping[str, str],
    *,
    principal: Principal,
    connectors: Sequence[str],
    routing: Routing,
) -> bool:
    """Do ``action`` on the appeal as ``principal``; return whether the principal still
    sees the appeal afterwards (a transfer takes it out of an agency's sight).

    :class:`AppealNotFound` when the appeal is not there or not in the principal's agency;
    :class:`Refused` (400 or 409, a word key or a message) when the action is not possible.
    """
    current = load_appeal(conn, appeal_id, lock=True)
    scope = principal.agency
    if scope and current.agency != scope:
        raise AppealNotFound(appeal_id)
    actor = principal.name
    common: dict[str, Any] = {"actor": actor, "connectors": connectors, "routing": routing}
    target = ACTIONS[action]
    try:
        if target is not None:
            note = _text(fields, "note", required="reason_required" if action == "reject" else "")
            transition(conn, appeal_id, target, note=note, **common)
        elif action == "transfer":
            reason = _text(fields, "reason", required="reason_required")
            agency = _text(fields, "agency", required="bad_agency")
            if agency not in agencies(routing) or agency == current.agency:
                raise Refused(400, "bad_agency")
            transfer(conn, appeal_id, agency, reason=reason, **common)
            return not scope or agency == scope
        elif action == "note":
            add_note(conn, appeal_id, _text(fields, "note", required="note_required"), **common)
        else:
            raw = _text(fields, "duplicate_of", required="no_original")
            if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) == appeal_id:
                raise Refused(400, "no_original")
            try:
                original = load_appeal(conn, int(raw))
            except AppealNotFound:
                raise Refused(400, "no_original") from None
            if scope and original.agency != scope:
                raise Refused(400, "no_original")
            note = _text(fields, "note")
            mark_duplicate(conn, appeal_id, int(raw), note=note, **common)
    except TransitionRefused:
        raise Refused(409, "not_now") from None
    except ValueError as exc:
        raise Refused(400, str(exc)) from None
    return True
