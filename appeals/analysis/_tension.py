"""The continuous tension-point computation: :func:`update_tension`.

Each call processes the appeals with ``requested_at <= now`` that the checkpoint
(tension_state, row ``tension``) has not yet seen, in one transaction: surges over every
closed hour since the last call (appeals.analysis._tension_surge), clusters in the
sliding windows since the last call (appeals.analysis._tension_clusters) and recurrences
at ``now`` (appeals.analysis._tension_recur).  It keeps one active point per (kind, key),
adds member appeals as they come, ends points that are over, and writes its checkpoint
(last appeal id, the hour up to which surges are judged, the cells' learnt normals as
JSON) in the same transaction; a call with a ``now`` not after the last one changes
nothing.  ``now`` is stream time, so an evaluation can replay simulated weeks hour by
hour.  A restart resumes from the checkpoint and gives the points an uninterrupted run
would.

Default thresholds:

- surge: Poisson CUSUM for a doubled rate against the cell's weekly-seasonal normal,
  decision interval h = 10 (0.2–0.3 false alarms per 100 cell-weeks per cell on simulated
  Poisson cells with a learnt normal, so that both cells an appeal counts in, sector and
  service, stay within 1 per 100 cell-weeks with the other kinds; figures and the recall
  they cost in detectors/_counts.py); a normal needs 2 weeks of history;
- cluster: issues (duplicates count once) of one service within 250 m of a spot and
  24 hours beyond the Poisson quantile of that spot's own normal (its trailing 4 weeks,
  the district's density as a floor, a weekday factor), false alarms 0.2 per 100
  cell-weeks, and at least 5;
- recurrence: a device back 3 times within 30 days; a place (a disc of 50 m, one
  service) back 3 times when one of its appeals was reopened or its appeals are beyond
  what that disc's normal brings by chance (false alarms 0.2 per 100 cell-weeks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from appeals._routing import Routing
from appeals.analysis._records import TensionKind
from appeals.analysis._tension_base import Active, Ending, Finding, load_active
from appeals.analysis._tension_clusters import ClusterConfig, clusters
from appeals.analysis._tension_recur import RecurrenceConfig, recurrences
from appeals.analysis._tension_surge import SurgeConfig, Surges

log = logging.getLogger(__name__)

STATE_NAME = "tension"


@dataclass(frozen=True, slots=True)
class TensionConfig:
    """Parameters of all three kinds (defaults documented in the module docstring)."""

    surge: SurgeConfig = field(default_factory=SurgeConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    recurrence: RecurrenceConfig = field(default_factory=RecurrenceConfig)


@dataclass(frozen=True, slots=True)
class TensionUpdate:
    """What one :func:`update_tension` call changed, and how far the stream is processed."""

    opened: int = 0
    updated: int = 0
    ended: int = 0
    #: time of the newest appeal at or before ``now`` (None when there is none)
    newest: datetime | None = None
    #: surges are judged up to this hour (exclusive)
    watermark: datetime | None = None


_LOCK = """
INSERT INTO tension_state (name) VALUES (%(name)s) ON CONFLICT (name) DO NOTHING
"""
_STATE = "SELECT appeal_id, watermark, state FROM tension_state WHERE name = %(name)s FOR UPDATE"
_SAVE = """
UPDATE tension_state
SET appeal_id = greatest(appeal_id, %(appeal_id)s), watermark = %(watermark)s,
    state = %(state)s, updated_at = now()
WHERE name = %(name)s
"""
_NEWEST = "SELECT max(requested_at) AS newest FROM appeals WHERE requested_at <= %(now)s"
_INSERT = """
INSERT INTO tension_points (kind, key, sector, district, service_code, device_id, lat, lon,
                            score, started_at, ended_at, detected_at, facts)
VALUES (%(kind)s, %(key)s, %(sector)s, %(district)s, %(service_code)s, %(device_id)s,
        %(lat)s, %(lon)s, %(score)s, %(started_at)s, %(ended_at)s, %(detected_at)s,
        %(facts)s)
RETURNING id
"""
_UPDATE = """
UPDATE tension_points
SET score = %(score)s, facts = %(facts)s, lat = coalesce(%(lat)s, lat),
    lon = coalesce(%(lon)s, lon),
    -- greatest() skips NULL: an active point must stay active
    ended_at = CASE WHEN %(ended_at)s::timestamptz IS NOT NULL
                    THEN greatest(%(ended_at)s, started_at) END,
    updated_at = now()
WHERE id = %(id)s
"""
_END = """
UPDATE tension_points SET ended_at = greatest(%(ended_at)s, started_at), updated_at = now()
WHERE id = %(id)s
"""
_MEMBER = """
INSERT INTO tension_members (tension_id, appeal_id) VALUES (%s, %s) ON CONFLICT DO NOTHING
"""


def update_tension(
    conn: psycopg.Connection[Any],
    routing: Routing,
    now: datetime,
    *,
    config: TensionConfig | None = None,
) -> TensionUpdate:
    """Bring the tension points up to ``now`` (stream time, timezone-aware).

    Runs in one transaction block (committed at its end unless the caller has a
    transaction open, which it then joins as a savepoint); concurrent calls queue on the
    checkpoint row.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cfg = config or TensionConfig()
    with conn.transaction():
        conn.execute(_LOCK, {"name": STATE_NAME})
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_STATE, {"name": STATE_NAME})
            row = cur.fetchone()
            assert row is not None
            cur.execute(_NEWEST, {"now": now})
            newest_row = cur.fetchone()
        newest = None if newest_row is None else newest_row["newest"]
        state: dict[str, Any] = dict(row["state"] or {})
        last_now = datetime.fromisoformat(state["now"]) if state.get("now") else None
        if last_now is not None and now <= last_now:
            return TensionUpdate(newest=newest, watermark=row["watermark"])
        offset = routing.zone.utcoffset(now)
        surges = Surges(
            cfg.surge, 0.0 if offset is None else offset.total_seconds(), state.get("surge", {})
        )
        active = load_active(conn)
        items, last_id = surges.update(conn, now)
        items += clusters(conn, active, last_now, now, cfg.cluster)
        items += recurrences(conn, active, last_now, now, cfg.recurrence)
        opened, updated, ended = _apply(conn, active, items)
        state = {"version": 1, "now": now.isoformat(), "surge": surges.state()}
        conn.execute(
            _SAVE,
            {
                "name": STATE_NAME,
                "appeal_id": last_id,
                "watermark": surges.next_hour,
                "state": Jsonb(state),
            },
        )
    return TensionUpdate(opened, updated, ended, newest=newest, watermark=surges.next_hour)


def _apply(
    conn: psycopg.Connection[Any],
    active: MutableMapping[tuple[TensionKind, str], Active],
    items: Iterable[Finding | Ending],
) -> tuple[int, int, int]:
    """Write the findings: open, update or end points, add members; (opened, updated, ended)."""
    opened = updated = ended = 0
    for item in items:
        point = active.get((item.kind, item.key))
        if isinstance(item, Ending):
            if point is not None:
                conn.execute(_END, {"id": point.id, "ended_at": item.ended_at})
                del active[item.kind, item.key]
                ended += 1
            continue
        facts = dict(item.facts)
        if point is None:
            row = conn.execute(
                _INSERT,
                {
                    "kind": item.kind.value,
                    "key": item.key,
                    "sector": item.sector,
                    "district": item.district,
                    "service_code": item.service_code,
                    "device_id": item.device_id,
                    "lat": item.lat,
                    "lon": item.lon,
                    "score": item.score,
                    "started_at": item.started_at,
                    "ended_at": item.ended_at,
                    "detected_at": item.detected_at,
                    "facts": Jsonb(facts),
                },
            ).fetchone()
            assert row is not None
            point = Active(row[0], item.kind, item.key, item.score, item.started_at, facts)
            new = set(item.appeal_ids)
            opened += 1
        else:
            new = set(item.appeal_ids) - point.members
            same = abs(point.score - item.score) <= 1e-4 * max(1.0, item.score)
            if new or not same or point.facts != facts or item.ended_at is not None:
                conn.execute(
                    _UPDATE,
                    {
                        "id": point.id,
                        "score": item.score,
                        "facts": Jsonb(facts),
                        "lat": item.lat,
                        "lon": item.lon,
                        "ended_at": item.ended_at,
                    },
                )
                updated += 1
            point.score, point.facts = item.score, facts
        if new:
            with conn.cursor() as cur:
                cur.executemany(_MEMBER, [(point.id, i) for i in sorted(new)])
            point.members |= new
        if item.ended_at is None:
            active[item.kind, item.key] = point
        else:
            active.pop((item.kind, item.key), None)
            ended += 1
    return opened, updated, ended
