"""Hand-built appeal histories for the tension tests, written straight into the table."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from appeals import load_routing
from appeals.analysis import TensionKind, TensionPoint, TensionQuery, load_points

#: Monday 2026-03-02 00:00 МСК
T0 = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
#: the demo city's centre (Калуга); a degree of latitude is ~111 km
LAT, LON = 54.5293, 36.2754
ROUTING = load_routing()


@dataclass(frozen=True, slots=True)
class Plan:
    """One appeal to insert."""

    at: datetime
    service_code: str
    district: str
    lat: float | None = None
    lon: float | None = None
    resolved_at: datetime | None = None
    incident_id: int | None = None
    address: str = ""

    @property
    def sector(self) -> str:
        service = ROUTING.service(self.service_code)
        assert service is not None
        return service.group


def daily_shape(at: datetime) -> float:
    """Relative rate by local hour and weekday (mean about 1 over a week)."""
    local = at + timedelta(hours=3)
    hour = local.hour + local.minute / 60
    day = 0.25 + 1.5 * max(0.0, math.sin(math.pi * (hour - 6) / 16)) if 6 <= hour <= 22 else 0.25
    return day * (0.75 if local.weekday() >= 5 else 1.1)


def np_rng(rng: random.Random) -> np.random.Generator:
    """A numpy generator drawn from ``rng`` (so one seed still decides everything)."""
    return np.random.default_rng(rng.getrandbits(64))


def background(
    rng: random.Random,
    service_code: str,
    district: str,
    *,
    per_day: float,
    start: datetime,
    end: datetime,
    factor: float = 1.0,
) -> Iterator[Plan]:
    """Seasonal Poisson arrivals in a cell, scattered over ~10 km around the centre."""
    hour = start
    while hour < end:
        mu = factor * per_day / 24 * daily_shape(hour)
        for _ in range(int(np_rng(rng).poisson(mu))):
            yield Plan(
                at=hour + timedelta(seconds=rng.uniform(0, 3599)),
                service_code=service_code,
                district=district,
                lat=LAT + rng.uniform(-0.045, 0.045),
                lon=LON + rng.uniform(-0.075, 0.075),
            )
        hour += HOUR


_INSERT = """
INSERT INTO appeals (source, sector, service_code, title, lat, lon, address, district,
                     requested_at, resolved_at, status, incident_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id
"""


def insert(conn: psycopg.Connection[Any], plans: Iterable[Plan]) -> list[int]:
    """Insert the appeals (in time order) and commit; their ids, in the order given."""
    ordered = sorted(enumerate(plans), key=lambda p: p[1].at)
    ids = [0] * len(ordered)
    with conn.cursor() as cur:
        cur.executemany(
            _INSERT,
            [
                (
                    "citizen" if p.incident_id is None else "sensor",
                    p.sector,
                    p.service_code,
                    p.service_code,
                    p.lat,
                    p.lon,
                    p.address,
                    p.district,
                    p.at,
                    p.resolved_at,
                    "new" if p.resolved_at is None else "resolved",
                    p.incident_id,
                )
                for _, p in ordered
            ],
            returning=True,
        )
        for index, _ in ordered:
            row = cur.fetchone()
            assert row is not None
            ids[index] = int(row[0])
            cur.nextset()
    conn.commit()
    return ids


def points(conn: psycopg.Connection[Any], kind: TensionKind | None = None) -> list[TensionPoint]:
    return sorted(
        load_points(conn, TensionQuery(kind=kind, limit=10_000)), key=lambda p: (p.kind, p.key)
    )
