"""Agencies' ratings and sensors-first figures against hand-computed cases."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from appeals.analysis import (
    Rating,
    RatingBy,
    SensorsFirst,
    ratings,
    sensors_first,
    sensors_first_by_sector,
)
from appeals.analysis._ratings import REOPEN_DISTANCE_M
from citypulse.db import connect
from tests.appeals.analysis._build import (
    DEVICE,
    LAT,
    LON,
    M_PER_DEG,
    NOW,
    SINCE,
    UNTIL,
    Builder,
    north,
)

H = 3600.0


def _week(conn: psycopg.Connection[Any]) -> None:
    """Agency А: a1..a6 (Дороги), agency Б: a7..a9 (ЖКХ); hours after SINCE."""
    b = Builder(conn)
    b.appeal("citizen", requested=-1, status="new")  # before the period: not counted
    # a1: resolved at 5 h of a 10 h deadline, closed at 6 h.
    b.appeal("citizen", requested=0, expected=10, accepted=1, resolved=5, closed=6,
             status="closed")  # fmt: skip
    # a2: a sensor's; resolved at 6 h, reopened at 7 h (after a note), resolved again at
    # 10 h, 8 h after it came, with a 4 h deadline.
    b.appeal("sensor", service="traffic-signal", device=DEVICE, requested=2, expected=6,
             accepted=3, resolved=10, status="resolved",
             events=((3, "accepted"), (3.5, "in_progress"), (6, "resolved"),
                     (6.5, "resolved"), (7, "in_progress"), (10, "resolved")))  # fmt: skip
    # a3: accepted after 2 h, still in progress past its deadline: overdue.
    b.appeal("citizen", service="noise", lat=north(2000), requested=4, expected=8,
             accepted=6, status="in_progress")  # fmt: skip
    # a4: no deadline, new.  a5: another system's, rejected.
    b.appeal("citizen", service="noise", lat=north(3000), requested=5)
    b.appeal("system", service="noise", lat=north(4000), requested=6, expected=30,
             closed=7, status="rejected")  # fmt: skip
    # a6: the same device and service 72 h after a2 was resolved: a2 reopened; new and
    # overdue itself.
    b.appeal("sensor", service="traffic-signal", device=DEVICE, requested=82, expected=86)
    # a7 (agency Б): 30 m from a1, same service, after a1 was resolved: a1 reopened.
    b.appeal("citizen", agency="Б", sector="ЖКХ", lat=north(30), requested=100, expected=110,
             accepted=101, resolved=105, status="resolved")  # fmt: skip
    # a8: 80 m from a1, 110 m from a7: no repeat.
    b.appeal("citizen", agency="Б", sector="ЖКХ", lat=north(-80), requested=120,
             accepted=120.5, resolved=121, status="resolved")  # fmt: skip
    # a9: 10 m from a1 and 20 m from a7: repeats both, counted once against the later
    # resolution (a7's, agency Б).
    b.appeal("citizen", agency="Б", sector="ЖКХ", lat=north(10), requested=130)
    conn.commit()


def test_every_figure_by_hand(db_url: str) -> None:
    with connect(db_url) as conn:
        _week(conn)
        got = ratings(conn, SINCE, UNTIL, by="agency", now=NOW, min_ranked=3)
    a, b = {r.name: r for r in got}["А"], {r.name: r for r in got}["Б"]
    # А: accepted a1 1 h, a2 1 h, a3 2 h; resolved a1 5 h, a2 8 h.
    assert a.received == 6
    assert a.accept_median_s == pytest.approx(1 * H)
    assert a.accept_p90_s == pytest.approx(1 * H + 0.8 * (2 * H - 1 * H))
    assert a.resolve_median_s == pytest.approx(6.5 * H)
    assert a.resolve_p90_s == pytest.approx(5 * H + 0.9 * 3 * H)
    # due: a1, a2 (resolved), a3, a6 (deadline passed); a4 has none, a5 was rejected.
    assert a.on_time_share == pytest.approx(1 / 4)
    assert a.overdue == 2  # a3, a6
    assert a.reopened == 3  # a2 by its history, a2 again by a6, a1 by a7
    assert a.sensor_share == pytest.approx(2 / 6)  # a2, a6; a5 is another system's
    # p90 of resolve/deadline: a1 0.5, a2 2.0 -> 1.85, speed 2 - 1.85.
    speed = 2 - (0.5 + 0.9 * 1.5)
    assert a.score == pytest.approx(
        100 * (0.4 * 0.25 + 0.2 * speed + 0.2 * (1 - 2 / 6) + 0.2 * (1 - 3 / 6))
    )
    # Б: accepted a7 1 h, a8 0.5 h; resolved a7 5 h, a8 1 h; only a7 has a deadline.
    assert b.received == 3
    assert b.accept_median_s == pytest.approx(0.75 * H)
    assert b.accept_p90_s == pytest.approx(0.5 * H + 0.9 * 0.5 * H)
    assert b.resolve_median_s == pytest.approx(3 * H)
    assert b.resolve_p90_s == pytest.approx(1 * H + 0.9 * 4 * H)
    assert b.on_time_share == pytest.approx(1.0)
    assert (b.overdue, b.reopened, b.sensor_share) == (0, 1, 0.0)  # a9 repeats a7
    assert b.score == pytest.approx(100 * (0.4 + 0.2 + 0.2 + 0.2 * (1 - 1 / 3)))
    assert [(r.name, r.rank) for r in got] == [("Б", 1), ("А", 2)]


def test_too_few_appeals_are_scored_but_not_ranked(db_url: str) -> None:
    with connect(db_url) as conn:
        _week(conn)
        few = ratings(conn, SINCE, UNTIL, now=NOW, min_ranked=4)
        none = ratings(conn, SINCE, UNTIL, now=NOW)
    assert [(r.name, r.rank) for r in few] == [("А", 1), ("Б", None)]
    assert [r.rank for r in none] == [None, None]


def test_by_sector_groups_the_same_appeals(db_url: str) -> None:
    with connect(db_url) as conn:
        _week(conn)
        by_agency = ratings(conn, SINCE, UNTIL, by=RatingBy.AGENCY, now=NOW)
        by_sector = ratings(conn, SINCE, UNTIL, by="sector", now=NOW)
    renamed = {"А": "Дороги", "Б": "ЖКХ"}
    assert sorted(by_sector, key=lambda r: r.name) == sorted(
        (_renamed(r, renamed[r.name]) for r in by_agency), key=lambda r: r.name
    )


def _renamed(r: Rating, name: str) -> Rating:
    return replace(r, name=name)


def test_now_decides_what_is_due_and_overdue(db_url: str) -> None:
    """At 9 h: a2 not yet resolved (done at 10 h) and past its 6 h deadline; a3 past 8 h;
    a1 resolved on time; nothing reopened yet except a2's history (7 h)."""
    with connect(db_url) as conn:
        _week(conn)
        early = ratings(conn, SINCE, UNTIL, now=SINCE.replace(hour=9), min_ranked=1)
    a = {r.name: r for r in early}["А"]
    assert (a.overdue, a.reopened) == (2, 1)
    assert a.on_time_share == pytest.approx(1 / 3)  # a1 of a1, a2, a3
    assert a.resolve_median_s == pytest.approx(5 * H)  # a1 only


def test_place_repeats_need_the_same_service(db_url: str) -> None:
    with connect(db_url) as conn:
        b = Builder(conn)
        b.appeal("citizen", requested=0, resolved=1, status="resolved")
        b.appeal("citizen", service="noise", requested=2)  # same place, another service
        b.appeal("citizen", requested=2 + 24 * 31)  # same service, 31 days later
        conn.commit()
        got = ratings(conn, SINCE, UNTIL, now=NOW + (UNTIL - SINCE) * 10, min_ranked=1)
    assert [(r.name, r.received, r.reopened) for r in got] == [("А", 2, 0)]


def test_bad_period_is_refused(db_url: str) -> None:
    with connect(db_url) as conn, pytest.raises(ValueError, match="until"):
        ratings(conn, UNTIL, SINCE)
    with pytest.raises(ValueError):
        RatingBy("district")


def _faults(conn: psycopg.Connection[Any]) -> None:
    b = Builder(conn)
    # F1: the sensor at 0 h, citizens at 1 h and 3 h in its group: lead +1 h.
    s1 = b.appeal("sensor", requested=0, sector="Транспорт", device=DEVICE)
    b.link(b.appeal("citizen", requested=1, group=s1, sector="Транспорт"), s1)
    b.appeal("citizen", requested=3, group=s1, sector="Транспорт")
    # F2 (Дороги): a citizen at 10 h first, the sensor at 12 h: lead -2 h.
    c3 = b.appeal("citizen", requested=10)
    s2 = b.appeal("sensor", requested=12, group=c3, device="tl-kirova-pushkina")
    b.link(c3, s2)
    # F3: linked but not grouped; the citizen half an hour after the sensor.
    s3 = b.appeal("sensor", requested=20, sector="Транспорт", device="cam-kirova-teatralnaya-n")
    b.link(b.appeal("citizen", requested=20.5, sector="Транспорт"), s3)
    # Not faults: a lone sensor appeal, a lone citizen, a citizen with another system.
    b.appeal("sensor", requested=30, device="cam-kirova-teatralnaya-e")
    b.appeal("citizen", requested=31, lat=LAT + 0.1)
    x = b.appeal("system", requested=40)
    b.link(b.appeal("citizen", requested=41, group=x), x)
    # First reported before the period: left out.
    s5 = b.appeal("sensor", requested=-2, device="cam-kirova-teatralnaya-s")
    b.link(b.appeal("citizen", requested=1, group=s5), s5)
    conn.commit()


def test_sensors_first_ordering_and_median_lead(db_url: str) -> None:
    with connect(db_url) as conn:
        _faults(conn)
        overall = sensors_first(conn, SINCE, UNTIL)
        per_sector = sensors_first_by_sector(conn, SINCE, UNTIL)
    # leads: F1 +3600, F2 -7200, F3 +1800 -> median +1800; the sensor first in F1, F3.
    assert (overall.faults, overall.sensor_first, overall.median_lead_s) == (3, 2, 1800.0)
    assert overall.share == pytest.approx(2 / 3)
    assert per_sector == {
        "Дороги": SensorsFirst(1, 0, 0.0, -7200.0),
        "Транспорт": SensorsFirst(2, 2, 1.0, (3600.0 + 1800.0) / 2),
    }


def test_sensors_first_with_no_faults(db_url: str) -> None:
    with connect(db_url) as conn:
        assert sensors_first(conn, SINCE, UNTIL) == SensorsFirst(0, 0, None, None)


def test_place_repeats_are_found_across_grid_cells(db_url: str) -> None:
    """The place join works on a 100 m grid: 30 m north and 30 m east (42 m) of a resolved
    appeal standing 5 m short of a cell's corner is a repeat; 40 m + 40 m (57 m) is not."""
    cell = 2 * REOPEN_DISTANCE_M / M_PER_DEG
    with connect(db_url) as conn:
        lat = math.ceil(LAT / cell) * cell - 5 / M_PER_DEG
        dlon = cell / math.cos(math.radians(lat))  # the grid's width at this latitude
        lon = math.ceil(LON / dlon) * dlon - 5 / (M_PER_DEG * math.cos(math.radians(lat)))
        east = 1 / (M_PER_DEG * math.cos(math.radians(lat)))
        b = Builder(conn)
        b.appeal("citizen", lat=lat, lon=lon, requested=0, resolved=1, status="resolved")
        b.appeal("citizen", lat=lat + 30 / M_PER_DEG, lon=lon + 30 * east, requested=2)
        b.appeal("citizen", agency="Б", lat=lat, lon=lon, requested=3, resolved=4,
                 status="resolved")  # fmt: skip
        b.appeal("citizen", lat=lat + 40 / M_PER_DEG, lon=lon + 40 * east, requested=5)
        conn.commit()
        got = {r.name: r.reopened for r in ratings(conn, SINCE, UNTIL, now=NOW)}
    # А's resolution is repeated 42 m away (2 h) and on the spot by Б's appeal (3 h); the
    # last one is 57 m from both resolved ones: no repeat of Б's
    assert got == {"А": 2, "Б": 0}
