"""Agencies' ratings and the sensors-first figures, for any period.

Every figure is about the appeals **received** in ``[since, until)`` (``requested_at``),
grouped by agency or by sector block, as the database holds them at ``now`` (the
current time unless given: a report for a past week passes the week's end):

- ``accept_*_s``: seconds from ``requested_at`` to ``accepted_at`` (accepted by ``now``);
- ``resolve_*_s``: seconds from ``requested_at`` to ``resolved_at`` (``closed_at`` when
  closed without a resolution) of the appeals resolved or closed by ``now``; rejected
  ones have none (the ``appeal_sla`` view's definitions, sql/0008); median and p90 are
  ``percentile_cont`` (interpolated);
- ``on_time_share``: among the appeals with a deadline (``expected_at``) that are *due*
  (resolved or closed by ``now``, or whose deadline has passed by ``now``; rejected ones
  are left out), the share resolved or closed by their deadline; None when none is due;
- ``overdue``: deadline passed at ``now`` and not resolved, closed or rejected by then;
- ``reopened``: reopenings of the group's appeals, each counted once: (1) every time the
  history (``appeal_events``) takes the appeal back to ``in_progress`` right after
  ``resolved`` (or ``closed``), by ``now``; (2) every *new* appeal, received by ``now``
  within 30 days after one of the group's appeals was resolved or closed, of the same
  service and on the same device (sensors: ``incidents.device_id``) or the same place
  (within 50 m, when either has no device: citizens and other systems).  A new appeal
  that repeats several resolved ones counts once, against the latest resolved;
- ``sensor_share``: the share of appeals raised by our sensors (``source = 'sensor'``);
  citizens' reports and other systems' events (``'system'``: video analytics, 112, the
  housing inspection, sql/0015) count among the received but are not sensors.

The score (0–100, higher is better) weighs four parts, each in [0, 1]:

    score = 100 × (0.4·on_time + 0.2·speed + 0.2·(1 − overdue/received)
                   + 0.2·(1 − min(1, reopened/received))) / (sum of the weights present)

where ``on_time`` is ``on_time_share`` and ``speed`` compares the p90 of each resolved
appeal's time to resolve *divided by its own deadline* (``expected_at − requested_at``:
the service's or route's deadline) with 1: ``speed = 1`` when that p90 is within the
deadline, falling linearly to 0 at twice the deadline (``max(0, 2 − p90)``).  A part with
no data (nothing due, nothing resolved with a deadline) is left out and the remaining
weights share its weight.  Groups with fewer than :data:`MIN_RANKED` appeals get a score
but no rank; the others are ranked by score, best first, equal scores sharing a rank.

Sensors first: a *fault* is a group of appeals (``group_id``, appeals/_correlate.py) or
a sensor appeal with citizens' reports linked ``confirms`` to it, holding at least one
sensor appeal and one citizen's report, whose first report falls in ``[since, until)``.
Its lead is the first citizen's ``requested_at`` minus the first sensor appeal's: the
sensor came first when the lead is positive; zero or negative means citizens were first
(or at the same second).  ``median_lead_s`` is the median over all such faults,
negative leads included.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

#: Appeals a group needs in the period to be ranked.
MIN_RANKED = 20
#: Weights of the score's parts.
WEIGHTS: Mapping[str, float] = {"on_time": 0.4, "speed": 0.2, "not_overdue": 0.2, "kept": 0.2}
#: How far after a resolution a new appeal on the same device or place reopens it.
REOPEN_DAYS = 30
#: How close a new appeal must be to count as the same place.
REOPEN_DISTANCE_M = 50.0

_M_PER_DEG_LAT = 111_320.0
_EARTH_RADIUS_M = 6_371_008.8
# The statements sort and hash a period's appeals: room for a month's in memory, for this
# transaction only (the server's default of 4 MB spills them to disk many times over); and
# no JIT, whose compiling took longer than the query itself (figures in docs/appeals.md).
_SETTINGS = "SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"


class RatingBy(enum.StrEnum):
    """What the ratings group appeals by."""

    AGENCY = "agency"
    SECTOR = "sector"


@dataclass(frozen=True, slots=True)
class Rating:
    """One agency's or sector block's figures for a period (see the module docstring)."""

    name: str
    received: int
    accept_median_s: float | None
    accept_p90_s: float | None
    resolve_median_s: float | None
    resolve_p90_s: float | None
    on_time_share: float | None
    overdue: int
    reopened: int
    sensor_share: float
    score: float
    rank: int | None


@dataclass(frozen=True, slots=True)
class SensorsFirst:
    """Faults both a sensor and citizens reported, and how often the sensor came first."""

    faults: int
    sensor_first: int
    share: float | None
    median_lead_s: float | None


# One statement: the period's appeals with their per-appeal figures, the reopenings by
# history and by repeat, aggregated per group.  ``{key}`` is agency or sector (an
# Identifier); the rest are parameters.  Repeats on a place are found by an equi-join on
# (service, 100 m grid cell): each resolved appeal stands in its own cell and the three
# neighbours nearest to it (the 2×2 block of its quadrant: all that 50 m can reach from a
# cell twice as wide), then the exact distance decides.
_RATINGS = """
WITH clock AS (SELECT %(now)s::timestamptz AS now),
p AS (
    SELECT a.id, a.{key} AS name, a.source, a.service_code, a.status, a.requested_at,
           a.expected_at, a.lat, a.lon, i.device_id,
           coalesce(a.resolved_at, a.closed_at) AS done_at,
           CASE WHEN a.accepted_at <= c.now
                THEN extract(epoch FROM a.accepted_at - a.requested_at) END AS accept_s,
           (a.status IN ('resolved', 'closed')
               AND coalesce(a.resolved_at, a.closed_at) <= c.now) AS fin,
           (a.expected_at < c.now
               AND NOT coalesce(coalesce(a.resolved_at, a.closed_at) <= c.now, false))
               AS overdue
    FROM appeals a
    CROSS JOIN clock c
    LEFT JOIN LATERAL (SELECT device_id FROM incidents WHERE id = a.incident_id LIMIT 1) i ON true
    WHERE a.requested_at >= %(since)s AND a.requested_at < %(until)s
),
f AS (
    SELECT p.*,
           CASE WHEN fin THEN extract(epoch FROM done_at - requested_at) END AS resolve_s,
           CASE WHEN fin AND expected_at > requested_at
                THEN extract(epoch FROM done_at - requested_at)
                     / extract(epoch FROM expected_at - requested_at) END AS deadline_ratio,
           (expected_at IS NOT NULL AND status <> 'rejected'
               AND (fin OR expected_at < (SELECT now FROM clock))) AS due,
           (expected_at IS NOT NULL AND fin AND done_at <= expected_at) AS on_time
    FROM p
),
agg AS (
    SELECT name, count(*) AS received,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY accept_s) AS accept_median_s,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY accept_s) AS accept_p90_s,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_s) AS resolve_median_s,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY resolve_s) AS resolve_p90_s,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY deadline_ratio) AS deadline_p90,
           count(*) FILTER (WHERE due) AS due,
           count(*) FILTER (WHERE due AND on_time) AS on_time,
           count(*) FILTER (WHERE overdue) AS overdue,
           count(*) FILTER (WHERE source = 'sensor') AS sensors
    FROM f GROUP BY name
),
history AS (
    SELECT p.name, sum(h.n) AS n
    FROM p
    CROSS JOIN LATERAL (
        SELECT count(*) AS n
        FROM (SELECT e.status, e.time,
                     lag(e.status) OVER (ORDER BY e.time, e.id) AS prev
              FROM appeal_events e WHERE e.appeal_id = p.id) e
        WHERE e.status = 'in_progress' AND e.prev IN ('resolved', 'closed')
          AND e.time <= %(now)s) h
    GROUP BY p.name
),
prior AS (
    SELECT id, name, service_code, done_at, lat, lon, device_id
    FROM p WHERE fin
),
grid AS (
    SELECT %(cell)s / %(m_per_deg)s AS dlat,
           %(cell)s / %(m_per_deg)s
               / cos(radians(least(80.0, coalesce(max(abs(lat)), 0.0)))) AS dlon
    FROM prior
),
cells AS MATERIALIZED (
    SELECT r.id, r.name, r.service_code, r.done_at, r.lat, r.lon, r.device_id,
           floor(r.lat / g.dlat)::bigint + y.dy * sign(r.lat / g.dlat - floor(r.lat / g.dlat)
                                                        - 0.5)::bigint AS cy,
           floor(r.lon / g.dlon)::bigint + x.dx * sign(r.lon / g.dlon - floor(r.lon / g.dlon)
                                                        - 0.5)::bigint AS cx
    FROM prior r
    CROSS JOIN grid g
    CROSS JOIN (VALUES (0), (1)) AS y (dy)
    CROSS JOIN (VALUES (0), (1)) AS x (dx)
    WHERE r.lat IS NOT NULL AND r.lon IS NOT NULL
),
later AS MATERIALIZED (
    SELECT a.id, a.service_code, a.requested_at, a.lat, a.lon, i.device_id
    FROM appeals a
    LEFT JOIN LATERAL (SELECT device_id FROM incidents WHERE id = a.incident_id LIMIT 1) i ON true
    WHERE a.requested_at >= %(since)s
      AND a.requested_at <= %(now)s
      AND a.requested_at <= (SELECT max(done_at) FROM prior) + %(window)s
),
pairs AS (
    SELECT l.id AS new_id, r.id, r.name, r.done_at
    FROM later l JOIN prior r
      ON r.device_id = l.device_id AND r.service_code = l.service_code
    WHERE l.requested_at > r.done_at AND l.requested_at <= r.done_at + %(window)s
    UNION ALL
    SELECT l.id, r.id, r.name, r.done_at
    FROM later l
    CROSS JOIN grid g
    JOIN cells r
      ON r.service_code = l.service_code
     AND r.cy = floor(l.lat / g.dlat)::bigint AND r.cx = floor(l.lon / g.dlon)::bigint
    WHERE l.lat IS NOT NULL AND l.lon IS NOT NULL
      AND (l.device_id IS NULL OR r.device_id IS NULL)
      AND l.requested_at > r.done_at AND l.requested_at <= r.done_at + %(window)s
      AND 2 * %(radius)s * asin(least(1.0, sqrt(
            power(sin(radians(l.lat - r.lat) / 2), 2)
            + cos(radians(r.lat)) * cos(radians(l.lat))
              * power(sin(radians(l.lon - r.lon) / 2), 2)))) <= %(distance)s
),
repeats AS (
    SELECT name, count(*) AS n
    FROM (SELECT DISTINCT ON (new_id) new_id, name
          FROM pairs ORDER BY new_id, done_at DESC, id DESC) latest
    GROUP BY name
)
SELECT agg.*, coalesce(history.n, 0) + coalesce(repeats.n, 0) AS reopened
FROM agg
LEFT JOIN history ON history.name = agg.name
LEFT JOIN repeats ON repeats.name = agg.name
"""

# Faults: groups (by group root) and 'confirms' links, with a sensor appeal and a
# citizen's report among them; the first of each, by sector and overall.
_SENSORS_FIRST = """
WITH touched AS (
    SELECT id, coalesce(group_id, id) AS root
    FROM appeals
    WHERE requested_at >= %(since)s AND requested_at < %(until)s
      AND source IN ('sensor', 'citizen')
),
members AS (
    SELECT a.id, coalesce(a.group_id, a.id) AS root
    FROM appeals a
    WHERE coalesce(a.group_id, a.id) IN (SELECT root FROM touched)
      AND a.source IN ('sensor', 'citizen')
    UNION
    SELECT unnest(ARRAY[l.appeal_id, s.id]), coalesce(s.group_id, s.id)
    FROM appeal_links l
    JOIN appeals s ON s.id = l.linked_id AND s.source = 'sensor'
    WHERE l.reason = 'confirms' AND l.linked_id IN (SELECT id FROM touched)
    UNION  -- not one OR: that is no semi-join, and a year's ids outgrow a hashed subplan
    SELECT unnest(ARRAY[l.appeal_id, s.id]), coalesce(s.group_id, s.id)
    FROM appeal_links l
    JOIN appeals s ON s.id = l.linked_id AND s.source = 'sensor'
    WHERE l.reason = 'confirms' AND l.appeal_id IN (SELECT id FROM touched)
),
faults AS (
    SELECT m.root,
           min(a.sector) FILTER (WHERE a.source = 'sensor') AS sector,
           min(a.requested_at) FILTER (WHERE a.source = 'sensor') AS sensor_at,
           min(a.requested_at) FILTER (WHERE a.source = 'citizen') AS citizen_at
    FROM members m JOIN appeals a ON a.id = m.id
    GROUP BY m.root
),
leads AS (
    SELECT sector, extract(epoch FROM citizen_at - sensor_at)::double precision AS lead_s
    FROM faults
    WHERE sensor_at IS NOT NULL AND citizen_at IS NOT NULL
      AND least(sensor_at, citizen_at) >= %(since)s
      AND least(sensor_at, citizen_at) < %(until)s
)
SELECT sector, grouping(sector) = 1 AS overall, count(*) AS faults,
       count(*) FILTER (WHERE lead_s > 0) AS sensor_first,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_s) AS median_lead_s
FROM leads
GROUP BY GROUPING SETS ((), (sector))
"""


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def score(
    *,
    received: int,
    on_time_share: float | None,
    deadline_p90: float | None,
    overdue: int,
    reopened: int,
) -> float:
    """The score (0–100) from a group's figures, as the module docstring defines it;
    ``deadline_p90`` is the p90 of time to resolve divided by the appeal's deadline."""
    if received <= 0:
        return 0.0
    parts: dict[str, float | None] = {
        "on_time": on_time_share,
        "speed": None if deadline_p90 is None else max(0.0, min(1.0, 2.0 - deadline_p90)),
        "not_overdue": 1.0 - overdue / received,
        "kept": 1.0 - min(1.0, reopened / received),
    }
    present = {k: v for k, v in parts.items() if v is not None}
    weight = sum(WEIGHTS[k] for k in present)
    return 100.0 * sum(WEIGHTS[k] * v for k, v in present.items()) / weight


def _ranked(rows: Sequence[Rating], min_ranked: int) -> list[Rating]:
    """Ranks (1 best; equal scores share) for the groups with enough appeals; the list in
    rank order, the unranked after them by score."""
    scores = sorted((r.score for r in rows if r.received >= min_ranked), reverse=True)
    out = [
        replace(r, rank=1 + sum(1 for s in scores if s > r.score))
        if r.received >= min_ranked
        else r
        for r in rows
    ]
    return sorted(out, key=lambda r: (r.rank is None, -r.score, r.name))


def ratings(
    conn: psycopg.Connection[Any],
    since: datetime,
    until: datetime,
    *,
    by: RatingBy | str = RatingBy.AGENCY,
    now: datetime | None = None,
    min_ranked: int = MIN_RANKED,
) -> list[Rating]:
    """The agencies' (``by="agency"``) or sector blocks' (``by="sector"``) ratings for
    the appeals received in ``[since, until)``, best first (one statement, in a
    transaction or savepoint of its own whose settings, :data:`_SETTINGS`, last until
    the caller's transaction ends)."""
    key = RatingBy(by)
    if until <= since:
        raise ValueError("until must be after since")
    query = sql.SQL(_RATINGS).format(key=sql.Identifier(key.value))
    params = {
        "since": since,
        "until": until,
        "now": now or datetime.now(UTC),
        "window": f"{REOPEN_DAYS} days",
        "cell": 2 * REOPEN_DISTANCE_M,
        "m_per_deg": _M_PER_DEG_LAT,
        "radius": _EARTH_RADIUS_M,
        "distance": REOPEN_DISTANCE_M,
    }
    with conn.transaction():
        conn.execute(_SETTINGS)
        rows = conn.cursor(row_factory=dict_row).execute(query, params).fetchall()
    found = []
    for row in rows:
        received = int(row["received"])
        on_time_share = _share(int(row["on_time"]), int(row["due"]))
        found.append(
            Rating(
                name=str(row["name"]),
                received=received,
                accept_median_s=_float(row["accept_median_s"]),
                accept_p90_s=_float(row["accept_p90_s"]),
                resolve_median_s=_float(row["resolve_median_s"]),
                resolve_p90_s=_float(row["resolve_p90_s"]),
                on_time_share=on_time_share,
                overdue=int(row["overdue"]),
                reopened=int(row["reopened"]),
                sensor_share=int(row["sensors"]) / received,
                score=score(
                    received=received,
                    on_time_share=on_time_share,
                    deadline_p90=_float(row["deadline_p90"]),
                    overdue=int(row["overdue"]),
                    reopened=int(row["reopened"]),
                ),
                rank=None,
            )
        )
    return _ranked(found, min_ranked)


def sensors_first_figures(
    conn: psycopg.Connection[Any], since: datetime, until: datetime
) -> tuple[SensorsFirst, dict[str, SensorsFirst]]:
    """:func:`sensors_first` and :func:`sensors_first_by_sector` from one statement."""
    if until <= since:
        raise ValueError("until must be after since")
    with conn.transaction():
        conn.execute(_SETTINGS)
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(_SENSORS_FIRST, {"since": since, "until": until})
            .fetchall()
        )
    overall = SensorsFirst(0, 0, None, None)
    by_sector: dict[str, SensorsFirst] = {}
    for row in rows:
        faults, first = int(row["faults"]), int(row["sensor_first"])
        figures = SensorsFirst(faults, first, _share(first, faults), _float(row["median_lead_s"]))
        if row["overall"]:
            overall = figures
        else:
            by_sector[str(row["sector"])] = figures
    return overall, dict(sorted(by_sector.items()))


def sensors_first(conn: psycopg.Connection[Any], since: datetime, until: datetime) -> SensorsFirst:
    """Faults reported both by a sensor and by citizens whose first report came in
    ``[since, until)``: how many, how often the sensor was first, the median lead."""
    return sensors_first_figures(conn, since, until)[0]


def sensors_first_by_sector(
    conn: psycopg.Connection[Any], since: datetime, until: datetime
) -> dict[str, SensorsFirst]:
    """:func:`sensors_first` per sector block (the same statement, grouped)."""
    return sensors_first_figures(conn, since, until)[1]


def rating_payload(rating: Rating) -> dict[str, Any]:
    """A rating as JSON (the API's and the weekly report's data)."""
    return {name: getattr(rating, name) for name in _FIELDS}


def sensors_first_payload(figures: SensorsFirst) -> dict[str, Any]:
    return {
        "faults": figures.faults,
        "sensor_first": figures.sensor_first,
        "share": figures.share,
        "median_lead_s": figures.median_lead_s,
    }


_FIELDS = tuple(f.name for f in fields(Rating))
