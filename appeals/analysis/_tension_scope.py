"""What an agency-limited reader sees of tension points: the points that hold at least
one appeal of its agency, each with only its agency's appeals.  A sector-wide surge
counts every agency's appeals (its explanation says how many), but an agency reads only
its own; the API and the console apply the same rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg

from appeals.analysis._records import TensionPoint

_IN_AGENCY = "SELECT id FROM appeals WHERE id = ANY(%s) AND agency = %s"


def agency_points(
    conn: psycopg.Connection[Any], points: Sequence[TensionPoint], agency: str | None
) -> list[TensionPoint]:
    """``points`` as ``agency`` sees them (all of them, unchanged, for no agency)."""
    if not agency:
        return list(points)
    members = sorted({a for p in points for a in p.appeal_ids})
    if not members:
        return []
    own = {row[0] for row in conn.execute(_IN_AGENCY, (members, agency))}
    out: list[TensionPoint] = []
    for p in points:
        mine = tuple(a for a in p.appeal_ids if a in own)
        if mine:
            out.append(replace(p, appeal_ids=mine))
    return out
