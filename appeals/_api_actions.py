"""The API's actions beside status changes (operator key)::

    POST /api/v1/appeals/{id}/transfer     agency, reason: hand it to another agency
    POST /api/v1/appeals/{id}/notes        note: add a note to its history
    POST /api/v1/appeals/{id}/duplicates   duplicate_of, note: it duplicates another appeal

Fields come as a form or a JSON object, like the status actions'.  An agency-limited key
acts only on its agency's appeals (another agency's is 404, as if absent), and may
transfer them away, after which it no longer sees them.  Each answers the appeal after
the action, as the status actions do.
``appeals._api`` adds these routes, importing this module when it builds the application
(this one builds on it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response

from appeals._actions import add_note, mark_duplicate, transfer
from appeals._api import Api, _json
from appeals._auth import Principal
from appeals._errors import ApiError, AppealNotFound, TransitionRefused
from appeals._params import int_param
from appeals._scope import in_scope
from appeals._store import appeal_payload, load_appeal
from citypulse import Appeal

log = logging.getLogger(__name__)
MAX_ID = 2**63 - 1


def check_scope(principal: Principal, appeal: Appeal) -> None:
    """An agency-limited key acts only on its agency's appeals: another agency's answers
    404, as if it did not exist."""
    if not in_scope(principal, appeal.agency):
        raise AppealNotFound(appeal.id)


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise ApiError(400, f"{name}: required")
    return value


async def _run(
    api: Api,
    request: Request,
    action: str,
    do: Callable[[psycopg.Connection[Any], Principal, Mapping[str, str]], Appeal],
) -> Response:
    appeal_id = int_param("id", str(request.path_params["id"]), 1, MAX_ID)
    fields, _ = await api._fields(request)
    principal = await api._principal(request, "operator", fields)

    def act(conn: psycopg.Connection[Any]) -> dict[str, Any]:
        check_scope(principal, load_appeal(conn, appeal_id, lock=True))
        return appeal_payload(do(conn, principal, fields), api.routing)

    try:
        result = await api._db(act)
    except AppealNotFound as exc:
        raise ApiError(404, f"no appeal {exc.appeal_id}") from None
    except TransitionRefused as exc:
        raise ApiError(409, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    log.info("appeal %s %s by %s", appeal_id, action, principal.name)
    return _json(result)


async def transfer_appeal(api: Api, request: Request) -> Response:
    def do(conn: psycopg.Connection[Any], who: Principal, fields: Mapping[str, str]) -> Appeal:
        agency = _required(fields, "agency")
        reason = _required(fields, "reason")
        return transfer(
            conn,
            int(request.path_params["id"]),
            agency,
            reason=reason,
            actor=who.name,
            connectors=api.connectors,
            routing=api.routing,
        )

    return await _run(api, request, "transferred", do)


async def note_appeal(api: Api, request: Request) -> Response:
    def do(conn: psycopg.Connection[Any], who: Principal, fields: Mapping[str, str]) -> Appeal:
        return add_note(
            conn,
            int(request.path_params["id"]),
            _required(fields, "note"),
            actor=who.name,
            connectors=api.connectors,
            routing=api.routing,
        )

    return await _run(api, request, "noted", do)


async def duplicate_appeal(api: Api, request: Request) -> Response:
    def do(conn: psycopg.Connection[Any], who: Principal, fields: Mapping[str, str]) -> Appeal:
        original_id = int_param("duplicate_of", _required(fields, "duplicate_of"), 1, MAX_ID)
        check_scope(who, load_appeal(conn, original_id))
        return mark_duplicate(
            conn,
            int(request.path_params["id"]),
            original_id,
            note=fields.get("note", ""),
            actor=who.name,
            connectors=api.connectors,
            routing=api.routing,
        )

    return await _run(api, request, "marked a duplicate", do)
