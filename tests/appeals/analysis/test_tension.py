"""The tension computation on hand-built appeal histories in a real database."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from appeals.analysis import TensionKind, TensionPoint, TensionUpdate, update_tension
from citypulse import IncidentType
from citypulse.db import connect
from tests.appeals._db import insert_incident, register_city
from tests.appeals._devices import make_incident
from tests.appeals.analysis._history import (
    HOUR,
    LAT,
    LON,
    ROUTING,
    T0,
    Plan,
    background,
    insert,
    points,
)

WEEK = timedelta(days=7)
LENINSKY = "Ленинский округ"
OKTYABRSKY = "Октябрьский округ"


def _run(conn: psycopg.Connection[Any], times: Iterable[datetime]) -> list[TensionUpdate]:
    return [update_tension(conn, ROUTING, t) for t in times]


def _every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out = []
    t = start
    while t <= end:
        out.append(t)
        t += step
    return out


def _quiet(rng: random.Random, end: datetime) -> list[Plan]:
    return [
        *background(rng, "road-damage", LENINSKY, per_day=100, start=T0, end=end),
        *background(rng, "noise", OKTYABRSKY, per_day=60, start=T0, end=end),
    ]


def test_a_flat_seasonal_history_has_no_tension(db_url: str) -> None:
    end = T0 + 4 * WEEK
    with connect(db_url) as conn:
        insert(conn, _quiet(random.Random(7), end))
        results = _run(conn, _every(T0 + 2 * WEEK, end, 12 * HOUR))
        assert points(conn) == []
    assert sum(r.opened for r in results) == 0
    assert results[-1].watermark == end


def test_a_surge_is_found_with_its_start_members_and_end(db_url: str) -> None:
    rng = random.Random(11)
    onset = T0 + 3 * WEEK + 2 * 24 * HOUR + 9 * HOUR  # Wednesday 12:00 МСК
    end = onset + 4 * 24 * HOUR
    extra = list(
        background(
            rng,
            "road-damage",
            LENINSKY,
            per_day=100,
            start=onset,
            end=onset + 12 * HOUR,
            factor=2.0,
        )
    )
    with connect(db_url) as conn:
        insert(conn, _quiet(rng, end))
        extra_ids = set(insert(conn, extra))
        _run(conn, [T0 + 2 * WEEK, *_every(onset - 24 * HOUR, end, 3 * HOUR)])
        surges = points(conn, TensionKind.SURGE)
    keys = {p.key for p in surges}
    assert keys == {"service:road-damage:" + LENINSKY, "sector:Дороги:" + LENINSKY}
    for p in surges:
        assert p.district == LENINSKY
        assert p.sector == "Дороги"
        assert onset - 3 * HOUR <= p.started_at <= onset + HOUR
        assert p.detected_at <= onset + 6 * HOUR
        assert p.ended_at is not None
        assert onset + 12 * HOUR < p.ended_at < end
        assert extra_ids <= set(p.appeal_ids)
        assert p.facts["count"] == len(p.appeal_ids)
        assert p.facts["count"] > p.facts["normal_high"] >= p.facts["expected"]
        assert p.facts["normal_low"] <= p.facts["expected"]
        assert abs(p.score - p.facts["count"] / p.facts["expected"]) < 0.05
    service = next(p for p in surges if p.facts["cell"] == "service")
    assert service.service_code == "road-damage"


def _spot(at: datetime, n: int, metres: float = 30.0) -> list[Plan]:
    """``n`` pothole reports within ``metres`` of one spot, an hour apart from ``at``."""
    return [
        Plan(
            at=at + i * HOUR,
            service_code="road-damage",
            district=LENINSKY,
            lat=LAT + 0.01 + (i % 3) * metres / 111_320,
            lon=LON + 0.01,
            address="ул. Кирова, 10",
        )
        for i in range(n)
    ]


def test_a_cluster_grows_keeps_its_key_and_ends_a_window_after_its_last_member(
    db_url: str,
) -> None:
    start = T0 + 10 * HOUR
    with connect(db_url) as conn:
        first = insert(conn, _spot(start, 4))
        _run(conn, [start + 4 * HOUR])
        assert points(conn) == []  # four are not a cluster
        more = insert(conn, _spot(start + 4 * HOUR, 2))
        _run(conn, [start + 6 * HOUR])
        (found,) = points(conn, TensionKind.CLUSTER)
        assert set(found.appeal_ids) == set(first + more)
        assert found.started_at == start
        assert found.facts["count"] == 6
        assert found.facts["radius_m"] == 250
        assert found.facts["address"] == "ул. Кирова, 10"
        assert found.service_code == "road-damage"
        assert found.ended_at is None
        late = insert(conn, _spot(start + 20 * HOUR, 1))
        _run(conn, [start + 21 * HOUR])
        (grown,) = points(conn, TensionKind.CLUSTER)
        assert grown.id == found.id
        assert grown.key == found.key
        assert set(grown.appeal_ids) == set(first + more + late)
        _run(conn, [start + 50 * HOUR])
        (over,) = points(conn, TensionKind.CLUSTER)
    assert over.ended_at == start + 20 * HOUR + 24 * HOUR


def _resolved_sensor_appeals(conn: psycopg.Connection[Any], times: list[datetime]) -> list[int]:
    register_city(conn)
    ids = []
    for i, at in enumerate(times):
        incident = insert_incident(
            conn, make_incident(IncidentType.SIGNAL_DARK, "tl-kirova-teatralnaya", started_at=at)
        )
        conn.execute(
            "UPDATE incidents SET status = 'resolved', resolved_at = %s WHERE id = %s",
            (at + 2 * HOUR, incident.id),
        )
        ids += insert(
            conn,
            [
                Plan(
                    at=at,
                    service_code="traffic-signal",
                    district=LENINSKY,
                    lat=54.5065,
                    lon=36.248,
                    resolved_at=at + 2 * HOUR if i < len(times) - 1 else None,
                    incident_id=incident.id,
                )
            ],
        )
    return ids


def test_a_device_back_three_times_in_30_days_is_a_recurrence(db_url: str) -> None:
    times = [T0, T0 + 5 * 24 * HOUR, T0 + 12 * 24 * HOUR]
    with connect(db_url) as conn:
        ids = _resolved_sensor_appeals(conn, times)
        _run(conn, [T0 + 6 * 24 * HOUR])
        assert points(conn) == []  # back once only
        _run(conn, [T0 + 13 * 24 * HOUR])
        (found,) = points(conn, TensionKind.RECURRENCE)
        assert found.key == "device:tl-kirova-teatralnaya"
        assert found.device_id == "tl-kirova-teatralnaya"
        assert found.facts == {"count": 3, "days": 30, "address": ""}
        assert list(found.appeal_ids) == ids
        assert found.started_at == T0
        _run(conn, [T0 + 31 * 24 * HOUR])  # the first is more than 30 days old
        (over,) = points(conn, TensionKind.RECURRENCE)
    assert over.ended_at == T0 + 31 * 24 * HOUR


def test_a_reopened_appeal_counts_as_coming_back(db_url: str) -> None:
    place = [
        Plan(T0, "road-damage", LENINSKY, LAT, LON, resolved_at=T0 + 5 * HOUR),
        Plan(T0 + 48 * HOUR, "road-damage", LENINSKY, LAT + 0.0002, LON),
        Plan(T0 + 50 * HOUR, "road-damage", LENINSKY, LAT + 0.02, LON),  # 2 km off
    ]
    with connect(db_url) as conn:
        ids = insert(conn, place)
        _run(conn, [T0 + 60 * HOUR])
        assert points(conn) == []
        conn.execute(
            "INSERT INTO appeal_events (appeal_id, time, status) VALUES (%s, %s, 'resolved'),"
            " (%s, %s, 'in_progress')",
            (ids[0], T0 + 5 * HOUR, ids[0], T0 + 70 * HOUR),
        )
        conn.commit()
        _run(conn, [T0 + 71 * HOUR])
        (found,) = points(conn, TensionKind.RECURRENCE)
    assert found.key == f"place:road-damage:{ids[0]}"
    assert set(found.appeal_ids) == set(ids[:2])
    assert found.facts["count"] == 3


def _comebacks(at: datetime, n: int, *, step_m: float = 0.0) -> list[Plan]:
    """``n`` road-damage appeals 5 days apart, each resolved a day after it came, each
    ``step_m`` metres north of the one before (0: the same spot)."""
    return [
        Plan(
            at + i * 5 * 24 * HOUR,
            "road-damage",
            LENINSKY,
            LAT + i * step_m / 111_320,
            LON,
            resolved_at=at + (i * 5 + 1) * 24 * HOUR,
            address="ул. Кирова, 10",
        )
        for i in range(n)
    ]


def test_a_quiet_place_back_three_times_is_a_recurrence_against_its_normal(db_url: str) -> None:
    start = T0 + 2 * 24 * HOUR
    with connect(db_url) as conn:
        ids = insert(conn, _comebacks(start, 3))
        _run(conn, [start + 11 * 24 * HOUR])
        (found,) = points(conn, TensionKind.RECURRENCE)
    assert set(found.appeal_ids) == set(ids)
    assert found.facts["count"] == 3
    assert 0 < found.facts["expected"] < 0.5  # what chance brings to a quiet disc


def test_a_place_where_the_service_is_common_is_not_a_recurrence(db_url: str) -> None:
    """300 road-damage appeals a day over the district, each resolved in 2 hours: many 50 m
    discs see 3 or more in 30 days by chance, the spot's 3 among them; none is a point."""
    rng = random.Random(3)
    start = T0 + 2 * 24 * HOUR
    busy = [
        Plan(p.at, p.service_code, p.district, p.lat, p.lon, resolved_at=p.at + 2 * HOUR)
        for p in background(
            rng, "road-damage", LENINSKY, per_day=300, start=T0, end=T0 + 30 * 24 * HOUR
        )
    ]
    with connect(db_url) as conn:
        insert(conn, [*busy, *_comebacks(start, 3)])
        _run(conn, [T0 + 30 * 24 * HOUR])
        assert points(conn, TensionKind.RECURRENCE) == []


def test_appeals_along_a_street_do_not_chain_into_one_place(db_url: str) -> None:
    """Six appeals 40 m apart, one after another: no 50 m disc holds three."""
    with connect(db_url) as conn:
        insert(conn, _comebacks(T0 + 2 * 24 * HOUR, 6, step_m=40.0))
        _run(conn, [T0 + 30 * 24 * HOUR])
        assert points(conn, TensionKind.RECURRENCE) == []


def _snapshot(ps: list[TensionPoint]) -> list[tuple[Any, ...]]:
    return [
        (
            p.kind,
            p.key,
            p.score,
            p.started_at,
            p.ended_at,
            p.detected_at,
            dict(p.facts),
            p.appeal_ids,
        )
        for p in ps
    ]


def test_updates_are_idempotent_and_a_restart_gives_the_same_points(db_url: str) -> None:
    rng = random.Random(5)
    onset = T0 + 2 * WEEK + 3 * 24 * HOUR + 10 * HOUR
    end = onset + 2 * 24 * HOUR
    plans = [
        *_quiet(rng, end),
        *background(
            rng,
            "road-damage",
            LENINSKY,
            per_day=100,
            start=onset,
            end=onset + 10 * HOUR,
            factor=2.5,
        ),
        *_spot(onset, 9),
    ]
    times = [T0 + WEEK, *_every(onset - 6 * HOUR, end, 4 * HOUR)]
    with connect(db_url) as conn:
        insert(conn, plans)
        for t in times:  # a restart before every update: a new connection each time
            with connect(db_url) as fresh:
                update_tension(fresh, ROUTING, t)
        restarted = _snapshot(points(conn))
        again = update_tension(conn, ROUTING, end)
        assert (again.opened, again.updated, again.ended) == (0, 0, 0)
        assert _snapshot(points(conn)) == restarted
        conn.execute(
            "DELETE FROM tension_members; DELETE FROM tension_points; DELETE FROM tension_state"
        )
        conn.commit()
        _run(conn, times)
        continuous = _snapshot(points(conn))
    assert {k for k, *_ in restarted} == {TensionKind.SURGE, TensionKind.CLUSTER}
    assert continuous == restarted


def test_duplicates_of_one_fault_are_not_a_cluster(db_url: str) -> None:
    start = T0 + 10 * HOUR
    with connect(db_url) as conn:
        first, *others = insert(conn, _spot(start, 6))
        conn.execute("UPDATE appeals SET group_id = %s WHERE id = ANY(%s)", (first, others))
        conn.commit()
        _run(conn, [start + 6 * HOUR])
        assert points(conn) == []
        conn.execute("UPDATE appeals SET group_id = NULL WHERE id = ANY(%s)", (others[:4],))
        conn.commit()
        _run(conn, [start + 7 * HOUR])
        (cluster,) = points(conn, TensionKind.CLUSTER)
    assert len(cluster.appeal_ids) == 6  # five issues, one of them reported twice
