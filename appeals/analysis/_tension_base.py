"""What every kind of tension point hands the writer: findings, and the active points."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from appeals.analysis._records import TensionKind


@dataclass(frozen=True, slots=True)
class Finding:
    """A tension point as one kind's computation sees it now; ``ended_at`` set when over.

    A finding whose (kind, key) is active in the database updates that point; otherwise
    it is a new point (possibly opened and ended within one update).
    """

    kind: TensionKind
    key: str
    sector: str
    district: str
    service_code: str
    score: float
    started_at: datetime
    detected_at: datetime
    facts: Mapping[str, Any]
    appeal_ids: tuple[int, ...]
    ended_at: datetime | None = None
    device_id: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class Ending:
    """An active point that is over, its facts left as they were last written."""

    kind: TensionKind
    key: str
    ended_at: datetime


@dataclass(slots=True)
class Active:
    """A point active in the database (or opened earlier in this update)."""

    id: int
    kind: TensionKind
    key: str
    score: float
    started_at: datetime
    facts: dict[str, Any]
    members: set[int] = field(default_factory=set)


_ACTIVE = """
SELECT p.id, p.kind, p.key, p.score, p.started_at, p.facts,
       coalesce(array_agg(m.appeal_id) FILTER (WHERE m.appeal_id IS NOT NULL), '{}')
           AS members
FROM tension_points p
LEFT JOIN tension_members m ON m.tension_id = p.id
WHERE p.ended_at IS NULL
GROUP BY p.id
"""


def load_active(conn: psycopg.Connection[Any]) -> dict[tuple[TensionKind, str], Active]:
    """Every active point with its members, by (kind, key)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_ACTIVE)
        out = {}
        for row in cur:
            kind = TensionKind(row["kind"])
            out[kind, row["key"]] = Active(
                id=row["id"],
                kind=kind,
                key=row["key"],
                score=float(row["score"]),
                started_at=row["started_at"],
                facts=dict(row["facts"]),
                members=set(row["members"]),
            )
        return out


def most_common(values: Iterable[str], default: str = "") -> str:
    """The most frequent non-empty value (the first seen among equals), or ``default``."""
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else default
