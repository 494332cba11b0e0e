"""Clusters are judged against the spot's own normal: a busy spot is not a new cluster."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from appeals.analysis import TensionKind, TensionPoint, update_tension
from appeals.analysis._tension_clusters import ClusterConfig, Normal, _onset, normal
from citypulse.db import connect
from tests.appeals.analysis._history import HOUR, LAT, LON, ROUTING, T0, Plan, background, insert
from tests.appeals.analysis._history import points as all_points

LENINSKY = "Ленинский округ"
DAY = timedelta(days=1)
BUSY = (LAT + 0.01, LON + 0.01)  # ~10 pothole reports a day, every day
QUIET = (LAT - 0.01, LON - 0.02)  # none before
PER_DAY = 10


def _around(
    rng: random.Random, at: tuple[float, float], start: datetime, n: int, metres: float
) -> list[Plan]:
    """``n`` pothole reports within ``metres`` of ``at``, spread over the day from ``start``."""
    out = []
    for _ in range(n):
        r, a = metres * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        out.append(
            Plan(
                at=start + timedelta(seconds=rng.uniform(0, 86_399)),
                service_code="road-damage",
                district=LENINSKY,
                lat=at[0] + r * math.sin(a) / 111_320,
                lon=at[1] + r * math.cos(a) / (111_320 * math.cos(math.radians(at[0]))),
                address="ул. Кирова, 10",
            )
        )
    return out


def _history(rng: random.Random, days: int) -> list[Plan]:
    busy = [p for d in range(days) for p in _around(rng, BUSY, T0 + d * DAY, PER_DAY, 120.0)]
    spread = background(rng, "road-damage", LENINSKY, per_day=100, start=T0, end=T0 + days * DAY)
    return [*busy, *spread]


def _day_after_history(
    db_url: str, seed: int, spots: list[tuple[tuple[float, float], int]]
) -> tuple[list[TensionPoint], list[set[int]], Normal | None]:
    """22 days of history, then a day with ``n`` reports near each spot: the clusters,
    each spot's appeal ids, and the normal the day was judged against."""
    rng = random.Random(seed)
    day = T0 + 22 * DAY
    with connect(db_url) as conn:
        insert(conn, _history(rng, 22))
        update_tension(conn, ROUTING, day)
        ids = [set(insert(conn, _around(rng, at, day, n, 60.0))) for at, n in spots]
        update_tension(conn, ROUTING, day + DAY)
        return all_points(conn, TensionKind.CLUSTER), ids, normal(conn, day, ClusterConfig())


def test_a_busy_spot_is_not_a_cluster_where_a_quiet_one_is(db_url: str) -> None:
    (found,), (busy, quiet), usual = _day_after_history(db_url, 3, [(BUSY, 9), (QUIET, 9)])
    assert usual is not None
    assert 20.9 < usual.days <= 21
    assert set(found.appeal_ids) >= quiet
    assert not set(found.appeal_ids) & busy
    assert found.facts["count"] >= 9
    assert found.facts["expected"] < 1.0  # the quiet spot's normal: the district's density
    assert found.score >= 1.0


def test_a_surge_around_a_busy_spot_is_still_a_cluster(db_url: str) -> None:
    (found,), (surge,), _ = _day_after_history(db_url, 4, [(BUSY, 4 * PER_DAY)])
    assert set(found.appeal_ids) >= surge
    assert found.facts["count"] >= 4 * PER_DAY
    # its normal is the spot's own, ~10 a day within 250 m, not the district's
    assert 0.6 * PER_DAY <= found.facts["expected"] <= 1.5 * PER_DAY
    assert found.score > 1.0


def test_no_history_no_normal(db_url: str) -> None:
    with connect(db_url) as conn:
        insert(conn, _around(random.Random(5), BUSY, T0, 3, 60.0))
        assert normal(conn, T0 + 12 * HOUR, ClusterConfig()) is None
        assert normal(conn, T0 + 3 * DAY, ClusterConfig()) is not None


def test_a_cluster_starts_where_its_excess_began_not_at_the_usual_appeals_before() -> None:
    look = T0 + DAY
    usual = [T0 + k * 2 * HOUR for k in range(10)]  # about its normal: 12 a day
    burst = [look - 4 * HOUR + k * timedelta(minutes=10) for k in range(20)]
    assert _onset([*usual, *burst], 12.0, look, DAY) == burst[0]
    assert _onset(usual, 0.1, look, DAY) == usual[0]  # nothing usual: from its first
