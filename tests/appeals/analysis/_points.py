"""Tension points written straight into tension_points/tension_members, as the
computation writes them, over citizens' reports queued as the API queues them: for the
tests of what reads points (texts, API, console, dashboards)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from appeals import Report, load_routing, submit_report
from appeals.analysis import TensionKind
from appeals.analysis._tension import _INSERT  # the computation's own statement
from citypulse.db import connect

T0 = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 08:00 МСК


def reports(db_url: str, service_code: str, n: int, *, lat: float = 54.5087,
            lon: float = 36.2492) -> list[int]:  # fmt: skip
    """``n`` citizens' reports to ``service_code`` near (lat, lon); their appeal ids."""
    routing = load_routing()
    ids = []
    with connect(db_url) as conn:
        for i in range(n):
            appeal, _ = submit_report(
                conn,
                Report(service_code=service_code, description=f"сообщение {i + 1}",
                       lat=lat + i * 1e-4, lon=lon),
                routing=routing,
                connectors=(),
                channel="api:test",
                actor="test",
            )  # fmt: skip
            ids.append(appeal.id)
        conn.commit()
    return ids


def add_point(
    db_url: str,
    kind: TensionKind,
    appeal_ids: Sequence[int],
    *,
    sector: str,
    district: str = "Ленинский округ",
    service_code: str = "",
    facts: Mapping[str, Any] | None = None,
    started_at: datetime = T0,
    hours: float | None = None,
    device_id: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    score: float = 2.5,
) -> int:
    """One point (ended ``hours`` after it started, or active) with its members; its id."""
    ended = None if hours is None else started_at + timedelta(hours=hours)
    params = {
        "kind": kind.value,
        "key": f"{kind.value}:{sector}:{district}:{service_code}:{device_id}:{started_at}",
        "sector": sector,
        "district": district,
        "service_code": service_code,
        "device_id": device_id,
        "lat": lat,
        "lon": lon,
        "score": score,
        "started_at": started_at,
        "ended_at": ended,
        "detected_at": started_at + timedelta(minutes=30),
        "facts": Jsonb(dict(facts or {"count": len(appeal_ids)})),
    }
    with connect(db_url) as conn:
        row = conn.execute(_INSERT, params).fetchone()
        assert row is not None
        point_id = int(row[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO tension_members (tension_id, appeal_id) VALUES (%s, %s)",
                [(point_id, a) for a in appeal_ids],
            )
        conn.commit()
    return point_id


@dataclass(frozen=True)
class Seeded:
    """Four points over citizens' reports, around ``at``: a sector-wide surge of road
    damage (active since ``at``), a cluster of two agencies' transport appeals (an hour
    after ``at``, ended after two hours), a traffic signal coming back (active, two hours
    after) and an old surge (20 days before, ended after five hours)."""

    surge: int
    cluster: int
    recurrence: int
    old: int
    roads: list[int]
    parking: list[int]
    congestion: list[int]


def seed(db_url: str, at: datetime) -> Seeded:
    roads = reports(db_url, "road-damage", 5)
    parking = reports(db_url, "parking", 3)
    congestion = reports(db_url, "traffic-congestion", 2)
    signals = reports(db_url, "traffic-signal", 4)
    surge = add_point(db_url, TensionKind.SURGE, roads, sector="Дороги", score=4.25,
                      started_at=at,
                      facts={"count": 37, "window_h": 24, "expected": 11.0, "normal_low": 9,
                             "normal_high": 14, "cell": "sector"})  # fmt: skip
    cluster = add_point(db_url, TensionKind.CLUSTER, parking + congestion, sector="Транспорт",
                        district="Октябрьский округ", hours=2, lat=54.51234, lon=36.26789,
                        started_at=at + timedelta(hours=1),
                        facts={"count": 5, "radius_m": 250, "window_h": 6,
                               "address": "ул. Кирова, 1"})  # fmt: skip
    recurrence = add_point(db_url, TensionKind.RECURRENCE, signals, sector="Дороги",
                           service_code="traffic-signal", device_id="tl-lenina-pushkina",
                           started_at=at + timedelta(hours=2), lat=54.5139, lon=36.2611,
                           facts={"count": 4, "days": 30})  # fmt: skip
    old = add_point(db_url, TensionKind.SURGE, roads[:2], sector="Дороги",
                    started_at=at - timedelta(days=20), hours=5)  # fmt: skip
    return Seeded(surge, cluster, recurrence, old, roads, parking, congestion)
