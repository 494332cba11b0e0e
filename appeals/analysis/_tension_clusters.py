"""Clusters: more appeals of one service in one spot than that spot's own normal.

A spot is a disc of ``radius_m`` around an issue's first appeal; its count is the issues
(an appeal grouped as another's duplicate, ``group_id``, is the same issue) of the
service within the disc and one ``window``.  Its **normal** is what the same service
brought to that disc over the trailing ``history`` (4 weeks, ending where the window
begins, so a cluster is never part of its own normal), per window:

    expected = season × max(local, district)

- ``local``: the disc's history issues per day of history actually held (a database
  with 10 days of appeals has 10 days of history);
- ``district``: the floor (a prior for places with little history): the district's
  history issues of the service per day, spread evenly over the district's extent (the
  box its located appeals of every service span, at least ``_MIN_DISTRICT_KM2``), times
  the disc's area;
- ``season``: the region's issues (every service: a steady estimate) in the same 24 hours
  1–4 weeks earlier over its average day of history (weekdays differ), within [0.5, 2];
  1 with less than a week of history.

With less than a day of history there is no normal yet: the expected count is then the
window's appeals of the service spread evenly over the region's extent (at least 25 km²).

A spot is a cluster when its count reaches ``min_size`` and its other issues (the disc
round an issue holds that issue and, by chance, Poisson(expected) others) exceed the
Poisson quantile of ``expected`` at ``1 - alpha``; ``alpha`` shares the false-alarm budget
(``false_per_100_cell_weeks``, 0.2 of the issue's 1 per 100 cell-weeks for all kinds)
among the looks in a week (one every half window: 14) and the spots tested at a look (the
window's issues of the service in the district, or the district's independent discs — its
extent over the disc's area — if more), Bonferroni.  A busy spot that always has many
complaints is therefore not a new cluster (a recurrence covers a place that keeps coming
back); the same count at a quiet spot is.  Overlapping cluster discs (flagged spots within
``radius_m`` of each other) make one cluster whose members are every appeal of their
discs' issues.

A cluster starts where its busiest disc's excess began (the change point: the issue time
after which the issues most exceed those expected), not at the first usual appeal in its
window.  The computation looks at sliding windows ending every half window since its last run (and
at ``now``), so a cluster straddling two looks is still seen; the history is judged once
per run, for its first look.  A cluster keeps its point (and key: service and first
member id) while new appeals join it; it ends one window after its last member.  Neighbour
counts use scikit-learn's BallTree (haversine); the history is read as counts per
``_SQUARE_M`` square, so an hourly update reads a few thousand rows, not weeks of appeals.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg.rows import dict_row
from sklearn.cluster import DBSCAN
from sklearn.neighbors import BallTree

from appeals.analysis._records import TensionKind
from appeals.analysis._tension_base import Active, Ending, Finding
from appeals.analysis._tension_places import (
    FIRST_APPEAL,
    Row,
    box_km2,
    by_service,
    located,
    place_facts,
)
from detectors import poisson_quantile

_EARTH_M = 6_371_000.0
#: the smallest region extent assumed with no history (as the first look sees it)
_MIN_AREA_KM2 = 25.0
#: history is read as counts per square of this side (positions: the square's mean)
_SQUARE_M = 50.0
_LOOKS_PER_WINDOW = 2
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    min_size: int = 5
    radius_m: float = 250.0
    window: timedelta = timedelta(hours=24)
    #: trailing history that makes a spot's normal
    history: timedelta = timedelta(days=28)
    #: the clusters' share of the false-alarm budget, per 100 cell-weeks (service × district)
    false_per_100_cell_weeks: float = 0.2


#: The trailing history's located issues (duplicates left out) as counts per square of
#: one service and district, with those in the same 24 hours a whole number of weeks
#: before the look (``same``) for the weekday factor.
_HISTORY = """
SELECT service_code, district, avg(lat) AS lat, avg(lon) AS lon, count(*) AS n,
       count(*) FILTER (
           WHERE floor(extract(epoch FROM %(look)s - requested_at) / 86400)::int %% 7 = 0
       ) AS same
FROM appeals
WHERE requested_at > %(start)s AND requested_at <= %(end)s
  AND lat IS NOT NULL AND lon IS NOT NULL AND group_id IS NULL
GROUP BY service_code, district, floor(lat / %(cell)s)::int,
         floor(lon * cos(radians(lat)) / %(cell)s)::int
"""


@dataclass(frozen=True, slots=True)
class Normal:
    """What the trailing history says about each service's spots (see the module)."""

    days: float  # days of history held (0: none yet)
    #: per service: square positions (radians, lat/lon) and their issue counts
    squares: Mapping[str, tuple[F64, F64]]
    #: per (service, district): history issues per day spread over the district's extent,
    #: expected in one disc
    district: Mapping[tuple[str, str], float]
    #: per district: independent discs in its extent
    discs: Mapping[str, float]
    #: per service: the weekday factor
    season: Mapping[str, float]

    def expected(self, service: str, district: str, at: F64, radius_m: float) -> F64:
        """Expected issues of ``service`` in a window within ``radius_m`` of each point of
        ``at`` (radians, lat/lon) in ``district``."""
        floor = self.district.get((service, district), 0.0)
        local = np.zeros(len(at))
        if service in self.squares and len(at):
            where, counts = self.squares[service]
            tree = BallTree(where, metric="haversine")
            for k, ind in enumerate(tree.query_radius(at, radius_m / _EARTH_M)):
                local[k] = counts[ind].sum()
        per_day = np.maximum(local / self.days, floor)
        return np.asarray(per_day * self.season.get(service, 1.0), dtype=np.float64)


def normal(conn: psycopg.Connection[Any], look: datetime, config: ClusterConfig) -> Normal | None:
    """The normal for windows ending at ``look`` (None with less than a day of history)."""
    end = look - config.window
    with conn.cursor() as cur:
        cur.execute(FIRST_APPEAL)
        row = cur.fetchone()
        first = None if row is None else row[0]
        if first is None or end - first < timedelta(days=1):
            return None
        cur.execute(
            _HISTORY,
            {"look": look, "start": end - config.history, "end": end, "cell": _SQUARE_M / 111_320},
        )
        rows = cur.fetchall()  # (service, district, lat, lon, n, same): thousands, by position
    days = (end - max(end - config.history, first)) / timedelta(days=1)
    disc_km2 = math.pi * (config.radius_m / 1000.0) ** 2
    if not rows:
        return Normal(days, {}, {}, {}, {})
    services, s_of = np.unique([r[0] for r in rows], return_inverse=True)
    districts, d_of = np.unique([r[1] for r in rows], return_inverse=True)
    where = np.array([(r[2], r[3]) for r in rows], dtype=float)
    n = np.array([r[4] for r in rows], dtype=float)
    same = np.array([r[5] for r in rows], dtype=float)
    radians = np.radians(where)
    squares = {}
    for k, service in enumerate(services.tolist()):
        mine = s_of == k
        squares[service] = (radians[mine], n[mine])
    lo = np.full((len(districts), 2), np.inf)
    hi = np.full((len(districts), 2), -np.inf)
    np.minimum.at(lo, d_of, where)
    np.maximum.at(hi, d_of, where)
    area = np.array([box_km2(a[0], b[0], a[1], b[1]) for a, b in zip(lo, hi, strict=True)])
    totals = np.zeros((len(services), len(districts)))
    np.add.at(totals, (s_of, d_of), n)
    district = {
        (str(services[i]), str(districts[j])): float(totals[i, j] / days / area[j] * disc_km2)
        for i, j in zip(*np.nonzero(totals), strict=True)
    }
    weeks = int(days // 7)  # same-weekday windows wholly within the history held
    season: dict[str, float] = {}
    if weeks >= 1:
        # one factor for every service: the region's whole volume gives a steady estimate
        factor = float(min(2.0, max(0.5, same.sum() / weeks / (n.sum() / days))))
        season = dict.fromkeys(services.tolist(), factor)
    discs = {str(d): float(max(1.0, a / disc_km2)) for d, a in zip(districts, area, strict=True)}
    return Normal(days, squares, district, discs, season)


def clusters(
    conn: psycopg.Connection[Any],
    active: Mapping[tuple[TensionKind, str], Active],
    since: datetime | None,
    now: datetime,
    config: ClusterConfig,
) -> list[Finding | Ending]:
    """Clusters found in the windows ending between ``since`` and ``now``, and those over."""
    step = config.window / _LOOKS_PER_WINDOW
    looks = []
    t = now if since is None else since + step
    while t < now:
        looks.append(t)
        t += step
    looks.append(now)
    rows = located(conn, looks[0] - config.window, now, devices=False)
    usual = normal(conn, looks[0], config)
    area = _extent_km2(rows)
    live = {key: a for (k, key), a in active.items() if k is TensionKind.CLUSTER}
    last_at = _last_members(conn, [a.id for a in live.values()])
    last = {key: last_at[a.id] for key, a in live.items() if a.id in last_at}
    started = {key: a.started_at for key, a in live.items()}
    detected: dict[str, datetime] = {}
    members = {key: set(a.members) for key, a in live.items()}
    scores: dict[str, tuple[float, float]] = {}
    seen: dict[int, Row] = {}
    ended: dict[str, datetime] = {}
    touched: set[str] = set()
    lo = 0
    for look in looks:
        while lo < len(rows) and rows[lo]["requested_at"] <= look - config.window:
            lo += 1
        window = [r for r in rows[lo:] if r["requested_at"] <= look]
        for service, mine in by_service(window).items():
            for spot in _spots(mine, usual, area, look, config):
                group = spot.rows
                ids = {r["id"] for r in group}
                key = _match_live(members, ended, f"{service}:", ids)
                if key is None:
                    key = f"{service}:{min(ids)}"
                    members[key] = set()
                    started[key] = spot.onset
                    detected[key] = look
                members[key] |= ids
                scores[key] = max(scores.get(key, (0.0, 0.0)), (spot.score, spot.expected))
                last[key] = max(last.get(key, look), max(r["requested_at"] for r in group))
                seen.update((r["id"], r) for r in group)
                touched.add(key)
        for key, at in last.items():
            if key not in ended and at + config.window <= look:
                ended[key] = at + config.window
    out: list[Finding | Ending] = []
    for key in sorted(members):
        if key not in touched:
            if key in ended and key in live:
                out.append(Ending(TensionKind.CLUSTER, key, ended[key]))
            continue
        group = [seen[i] for i in sorted(members[key]) if i in seen]
        sector, district, address, lat, lon = place_facts(group)
        span_h = (last[key] - started[key]) / timedelta(hours=1)
        window_h = max(config.window / timedelta(hours=1), math.ceil(span_h))
        score, expected = scores[key]
        out.append(
            Finding(
                kind=TensionKind.CLUSTER,
                key=key,
                sector=sector,
                district=district,
                service_code=key.rsplit(":", 1)[0],
                score=round(score, 2),
                started_at=started[key],
                detected_at=detected.get(key, now),
                facts={
                    "count": len(members[key]),
                    "radius_m": round(config.radius_m),
                    "window_h": round(window_h),
                    "address": address,
                    "expected": round(expected, 1),
                },
                appeal_ids=tuple(sorted(members[key])),
                ended_at=ended.get(key),
                lat=lat,
                lon=lon,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Spot:
    """One cluster in a window: its members, score (the busiest flagged disc's issues over
    its threshold, at least 1), that disc's expected count and when its excess began."""

    rows: list[Row]
    score: float
    expected: float
    onset: datetime


def _spots(
    rows: Sequence[Row],
    usual: Normal | None,
    area_km2: float,
    look: datetime,
    config: ClusterConfig,
) -> list[Spot]:
    """The window's clusters of one service ending at ``look`` (see the module)."""
    firsts: dict[int, Row] = {}
    for r in rows:  # in time order: an issue's first appeal places it
        firsts.setdefault(r["issue"], r)
    if len(firsts) < config.min_size:
        return []
    issues = list(firsts.values())
    at = np.radians(np.array([[r["lat"], r["lon"]] for r in issues], dtype=float))
    tree = BallTree(at, metric="haversine")
    radius = config.radius_m / _EARTH_M
    counts = tree.query_radius(at, radius, count_only=True)
    maybe = np.flatnonzero(counts >= config.min_size)
    if maybe.size == 0:
        return []
    disc_km2 = math.pi * (config.radius_m / 1000.0) ** 2
    budget = config.false_per_100_cell_weeks / 100.0 / (_LOOKS_PER_WINDOW * 7)
    budget *= config.window / timedelta(days=1)  # looks per week scale with the window
    expected = np.zeros(maybe.size)
    alpha = np.zeros(maybe.size)
    if usual is None:  # no normal yet: the window's appeals spread over the region
        expected[:] = len(issues) * disc_km2 / max(_MIN_AREA_KM2, area_km2)
        alpha[:] = budget / max(len(issues), max(_MIN_AREA_KM2, area_km2) / disc_km2)
    else:
        service = issues[0]["service_code"]
        tested = Counter(r["district"] for r in issues)
        for district in {issues[i]["district"] for i in maybe}:
            part = np.array([i for i in maybe if issues[i]["district"] == district])
            pos = np.searchsorted(maybe, part)
            expected[pos] = usual.expected(service, district, at[part], config.radius_m)
            alpha[pos] = budget / max(tested[district], usual.discs.get(district, 1.0))
    # a disc round an issue holds that issue and, by chance, Poisson(expected) others
    need = np.array(
        [
            max(config.min_size, poisson_quantile(float(mu), 1.0 - float(a)) + 2)
            for mu, a in zip(expected, alpha, strict=True)
        ]
    )
    hot = counts[maybe] >= need
    if not hot.any():
        return []
    flagged = maybe[hot]
    excess = counts[flagged] / need[hot]
    labels = DBSCAN(eps=radius, min_samples=1, metric="haversine").fit_predict(at[flagged])
    by_issue: dict[int, list[Row]] = {}
    for r in rows:
        by_issue.setdefault(r["issue"], []).append(r)
    out = []
    for label in sorted(set(labels.tolist())):
        mine = np.flatnonzero(labels == label)
        near = tree.query_radius(at[flagged[mine]], radius)
        chosen = sorted({int(i) for ind in near for i in ind})
        group = [r for i in chosen for r in by_issue[issues[i]["issue"]]]
        best = mine[int(np.argmax(excess[mine]))]
        mu = float(expected[hot][best])
        disc = tree.query_radius(at[flagged[best : best + 1]], radius)[0]
        times = sorted(issues[int(i)]["requested_at"] for i in disc)
        out.append(Spot(group, float(excess[best]), mu, _onset(times, mu, look, config.window)))
    return out


def _onset(
    times: Sequence[datetime], expected: float, look: datetime, window: timedelta
) -> datetime:
    """When the disc's excess began: the issue time ``t`` that maximises the issues since
    ``t`` less those expected since then (the change point of a Poisson rate's rise), so
    that the usual appeals before a cluster do not date its start."""
    best, at = -math.inf, times[0]
    for k, t in enumerate(times):
        excess = len(times) - k - expected * ((look - t) / window)
        if excess >= best:  # on a tie the later: the appeals before add nothing
            best, at = excess, t
    return at


def _extent_km2(rows: Sequence[Row]) -> float:
    """The box the rows' positions span, in km² (0 for none)."""
    lats = [float(r["lat"]) for r in rows if r["lat"] is not None]
    lons = [float(r["lon"]) for r in rows if r["lon"] is not None]
    if not lats:
        return 0.0
    km_lat = (max(lats) - min(lats)) * 111.32
    km_lon = (max(lons) - min(lons)) * 111.32 * math.cos(math.radians(sum(lats) / len(lats)))
    return km_lat * km_lon


def _match_live(
    members: Mapping[str, set[int]], ended: Mapping[str, datetime], prefix: str, ids: set[int]
) -> str | None:
    for key, have in members.items():
        if key not in ended and key.startswith(prefix) and have & ids:
            return key
    return None


_LAST_MEMBER = """
SELECT m.tension_id, max(a.requested_at) AS last
FROM tension_members m JOIN appeals a ON a.id = m.appeal_id
WHERE m.tension_id = ANY(%(ids)s)
GROUP BY m.tension_id
"""


def _last_members(conn: psycopg.Connection[Any], ids: list[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_LAST_MEMBER, {"ids": ids})
        return {row["tension_id"]: row["last"] for row in cur}
