"""The weekly analysis' figures: one ISO week of appeals in the region's zone, against the
weeks before it, gathered by :func:`weekly_report` into a frozen :class:`WeeklyReport`.

Every count is aggregated in PostgreSQL (``date_trunc`` in the region's zone, grouped
counts over the ``appeals_requested_at`` index), so a year of a million appeals costs
a few grouped scans, never rows in Python.  What the figures mean:

- received: appeals whose ``requested_at`` falls in the week, by source (citizens,
  sensors, other systems);
- resolved: appeals resolved or closed during the week (whenever received);
- overdue: appeals received in the week that missed their deadline: resolved or closed
  after it, or still open past it at ``now`` (rejected ones are not counted);
- trend: a row's count this week against the mean of the four weeks before it.

The agencies' rating and the sensors-first figures come from the ratings' functions
(``appeals.analysis._ratings``): by default the agencies' ratings and ``sensors_first``
of the week; a caller that has them already passes its own ``ratings`` and
``sensors_first`` so the report does not compute them twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from appeals._routing import Routing
from appeals.analysis._ratings import RatingBy, ratings, sensors_first
from appeals.analysis._records import TensionPoint, TensionQuery, load_points

#: Weeks before the reported one that its trend is measured against.
TREND_WEEKS = 4
SOURCES = ("citizen", "sensor", "system")
#: The most tension points a report lists (strongest first).
MAX_POINTS = 200


class RatingRow(Protocol):
    """One row of the agencies' rating, as ``_ratings.ratings`` returns it (``Rating``)."""

    @property
    def name(self) -> str: ...
    @property
    def received(self) -> int: ...
    @property
    def accept_median_s(self) -> float | None: ...
    @property
    def accept_p90_s(self) -> float | None: ...
    @property
    def resolve_median_s(self) -> float | None: ...
    @property
    def resolve_p90_s(self) -> float | None: ...
    @property
    def on_time_share(self) -> float | None: ...
    @property
    def overdue(self) -> int: ...
    @property
    def reopened(self) -> int: ...
    @property
    def sensor_share(self) -> float | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def rank(self) -> int | None: ...


class SensorsFirstRow(Protocol):
    """The sensors-first figures, as ``_ratings.sensors_first`` returns them."""

    @property
    def faults(self) -> int: ...
    @property
    def sensor_first(self) -> int: ...
    @property
    def share(self) -> float | None: ...
    @property
    def median_lead_s(self) -> float | None: ...


Conn = psycopg.Connection[Any]
RatingsFn = Callable[[Conn, datetime, datetime], Sequence[RatingRow]]
SensorsFirstFn = Callable[[Conn, datetime, datetime], SensorsFirstRow | None]


def _agencies(conn: Conn, since: datetime, until: datetime) -> Sequence[RatingRow]:
    """The agencies' rating of the week (``appeals.analysis._ratings``)."""
    return ratings(conn, since, until, by=RatingBy.AGENCY)


@dataclass(frozen=True, slots=True)
class Trend:
    """A row's count this week and in each of the :data:`TREND_WEEKS` weeks before it
    (oldest first); ``change`` against their mean, None when they were all zero."""

    name: str
    count: int
    before: tuple[int, ...]

    @property
    def baseline(self) -> float:
        return sum(self.before) / len(self.before) if self.before else 0.0

    @property
    def change(self) -> float | None:
        base = self.baseline
        return None if base == 0 else (self.count - base) / base


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline figure this week and the week before."""

    value: int
    previous: int

    @property
    def change(self) -> float | None:
        return None if self.previous == 0 else (self.value - self.previous) / self.previous


@dataclass(frozen=True, slots=True)
class DayCounts:
    """Appeals received on one day of the week (in the region's zone), by source."""

    day: date
    by_source: tuple[int, int, int]  # in the order of SOURCES

    @property
    def total(self) -> int:
        return sum(self.by_source)


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    """One ISO week's analysis; ``start``/``end`` are its Monday 00:00 and the next one's
    in ``zone``; ``now`` is when it was gathered (open appeals' overdue is as of then)."""

    year: int
    week: int
    zone: str
    start: datetime
    end: datetime
    now: datetime
    received: Figure
    by_source: tuple[Figure, Figure, Figure]  # in the order of SOURCES
    resolved: Figure
    overdue: Figure
    days: tuple[DayCounts, ...]
    sectors: tuple[Trend, ...]
    districts: tuple[Trend, ...]
    points: tuple[TensionPoint, ...]
    ratings: tuple[RatingRow, ...]
    sensors_first: SensorsFirstRow | None

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def week_start(monday: date, zone: ZoneInfo) -> datetime:
    """Midnight starting ``monday`` in ``zone``."""
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone)


def last_full_week(now: datetime, zone: ZoneInfo) -> date:
    """The Monday of the last ISO week that has ended by ``now`` in ``zone``."""
    today = now.astimezone(zone).date()
    return today - timedelta(days=today.weekday() + 7)


# Counts per week (Monday in the zone), source, sector and district over the trend window
# and the week itself; a few hundred grouped rows however many appeals.
_WEEKS = """
SELECT (date_trunc('week', requested_at, %(zone)s) AT TIME ZONE %(zone)s)::date AS monday,
       source, sector, district, count(*) AS n
FROM appeals
WHERE requested_at >= %(since)s AND requested_at < %(until)s
GROUP BY 1, 2, 3, 4
"""
_DAYS = """
SELECT (date_trunc('day', requested_at, %(zone)s) AT TIME ZONE %(zone)s)::date AS day,
       source, count(*) AS n
FROM appeals
WHERE requested_at >= %(since)s AND requested_at < %(until)s
GROUP BY 1, 2
"""
# Resolved during a week, whenever received: the resolution time has no index, so this
# is one sequential pass over the table for both weeks.
_RESOLVED = """
SELECT count(*) FILTER (WHERE done >= %(start)s) AS this,
       count(*) FILTER (WHERE done < %(start)s) AS previous
FROM (SELECT coalesce(resolved_at, closed_at) AS done FROM appeals
      WHERE status IN ('resolved', 'closed')) d
WHERE done >= %(previous)s AND done < %(until)s
"""
_OVERDUE = """
SELECT count(*) FILTER (WHERE requested_at >= %(start)s) AS this,
       count(*) FILTER (WHERE requested_at < %(start)s) AS previous
FROM appeals
WHERE requested_at >= %(previous)s AND requested_at < %(until)s
  AND status <> 'rejected' AND expected_at IS NOT NULL
  AND expected_at < CASE WHEN status IN ('resolved', 'closed')
                         THEN coalesce(resolved_at, closed_at, %(now)s) ELSE %(now)s END
"""


def weekly_report(
    conn: Conn,
    routing: Routing,
    monday: date,
    *,
    now: datetime | None = None,
    ratings: RatingsFn = _agencies,
    sensors_first: SensorsFirstFn = sensors_first,
) -> WeeklyReport:
    """Gather the analysis of the ISO week starting ``monday`` (read-only queries)."""
    if monday.weekday() != 0:
        raise ValueError(f"{monday} is not a Monday")
    zone = routing.zone
    now = now or datetime.now(UTC)
    start = week_start(monday, zone)
    end = week_start(monday + timedelta(days=7), zone)
    first = week_start(monday - timedelta(days=7 * TREND_WEEKS), zone)
    previous = week_start(monday - timedelta(days=7), zone)
    weeks = [monday - timedelta(days=7 * k) for k in range(TREND_WEEKS, -1, -1)]
    params = {"zone": zone.key, "since": first, "until": end}
    per_sector: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    per_district: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    per_source: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(_WEEKS, params):
            per_sector[row["sector"]][row["monday"]] += row["n"]
            per_district[row["district"]][row["monday"]] += row["n"]
            per_source[row["source"]][row["monday"]] += row["n"]
        days: dict[date, list[int]] = {monday + timedelta(days=k): [0, 0, 0] for k in range(7)}
        for row in cur.execute(_DAYS, {"zone": zone.key, "since": start, "until": end}):
            if row["day"] in days and row["source"] in SOURCES:
                days[row["day"]][SOURCES.index(row["source"])] += row["n"]
        window = {"start": start, "previous": previous, "until": end, "now": now}
        resolved = cur.execute(_RESOLVED, window).fetchone()
        overdue = cur.execute(_OVERDUE, window).fetchone()
    assert resolved is not None  # aggregates always return a row
    assert overdue is not None

    def figure(counts: dict[date, int]) -> Figure:
        return Figure(counts.get(monday, 0), counts.get(weeks[-2], 0))

    def trends(table: dict[str, dict[date, int]], names: Sequence[str]) -> tuple[Trend, ...]:
        rows = [
            Trend(
                name=name,
                count=table.get(name, {}).get(monday, 0),
                before=tuple(table.get(name, {}).get(w, 0) for w in weeks[:-1]),
            )
            for name in names
        ]
        return tuple(sorted(rows, key=lambda t: (-t.count, -t.baseline, t.name)))

    totals: dict[date, int] = defaultdict(int)
    for counts in per_source.values():
        for w, n in counts.items():
            totals[w] += n
    sector_names = list(routing.sectors) + sorted(set(per_sector) - set(routing.sectors))
    district_names = list(routing.districts.values())
    district_names += sorted(set(per_district) - set(district_names))
    points = load_points(conn, TensionQuery(since=start, until=end, limit=MAX_POINTS))
    return WeeklyReport(
        year=monday.isocalendar().year,
        week=monday.isocalendar().week,
        zone=zone.key,
        start=start,
        end=end,
        now=now,
        received=figure(totals),
        by_source=(
            figure(per_source["citizen"]),
            figure(per_source["sensor"]),
            figure(per_source["system"]),
        ),
        resolved=Figure(resolved["this"], resolved["previous"]),
        overdue=Figure(overdue["this"], overdue["previous"]),
        days=tuple(DayCounts(d, (c[0], c[1], c[2])) for d, c in sorted(days.items())),
        sectors=trends(per_sector, sector_names),
        districts=trends(per_district, district_names),
        points=tuple(sorted(points, key=lambda p: (-p.score, p.started_at, p.id))),
        ratings=tuple(ratings(conn, start, end)),
        sensors_first=sensors_first(conn, start, end),
    )
