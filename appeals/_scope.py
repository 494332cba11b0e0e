"""Who may see what: a key limited to an agency (``citypulse keys add --agency``) reads
and acts only on that agency's appeals (another agency's answers as if it did not
exist), and citizens' contact details are shown only to operator and admin keys in the
appeal's scope: its own agency's, or those not limited to one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from appeals._auth import Principal
from citypulse import Appeal

_CONTACTS = "SELECT id, contact FROM appeals WHERE id = ANY(%s) AND contact <> '{}'::jsonb"


def in_scope(principal: Principal, agency: str) -> bool:
    """Whether ``principal`` may read and act on an appeal of ``agency``."""
    return not principal.agency or principal.agency == agency


def sees_contact(viewer: Principal | None, agency: str) -> bool:
    """Whether ``viewer`` (None: no key given) may see the contact details of a citizen's
    report routed to ``agency``."""
    return viewer is not None and viewer.may("operator") and in_scope(viewer, agency)


def contacts(
    conn: psycopg.Connection[Any], appeals: Sequence[Appeal], viewer: Principal | None
) -> dict[int, dict[str, str]]:
    """The contact details of those ``appeals`` whose ``viewer`` may see them, by id."""
    ids = [a.id for a in appeals if sees_contact(viewer, a.agency)]
    if not ids:
        return {}
    rows = conn.cursor(row_factory=dict_row).execute(_CONTACTS, (ids,)).fetchall()
    return {int(r["id"]): {str(k): str(v) for k, v in r["contact"].items()} for r in rows}


def with_contact(payload: Mapping[str, Any], contact: Mapping[str, str] | None) -> dict[str, Any]:
    """``payload`` plus its ``contact`` object when there is one to show."""
    return {**payload, "contact": dict(contact)} if contact else dict(payload)
