"""Correlation of citizens' reports with sensor appeals: distance, time, sector, groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from appeals import (
    AppealDraft,
    AppealWriter,
    correlate,
    create_appeal,
    haversine_m,
    load_appeal,
    load_routing,
)
from citypulse import AppealSource, IncidentChange, IncidentType
from citypulse.db import connect
from tests.appeals._db import insert_incident, register_city
from tests.appeals._devices import make_incident

# tl-kirova-teatralnaya stands at 54.5065, 36.2480.
LAT, LON = 54.5065, 36.2480
M_PER_DEG = 111_320.0


def _citizen(
    conn: psycopg.Connection[Any],
    *,
    metres_north: float,
    hours_ago: float = 0.0,
    service_code: str = "traffic-signal",
) -> int:
    routing = load_routing()
    service = routing.service(service_code)
    assert service is not None
    appeal, _ = create_appeal(
        conn,
        AppealDraft(
            source=AppealSource.CITIZEN,
            sector=service.group,
            service_code=service_code,
            title="Светофор не переключается",
            description="Горит красный уже давно",
            agency="",
            priority=2,
            deadline=None,
            lat=LAT + metres_north / M_PER_DEG,
            lon=LON,
        ),
        note="",
        actor="test",
        connectors=(),
        routing=routing,
    )
    appeal_id = appeal.id
    conn.execute(
        "UPDATE appeals SET requested_at = now() - make_interval(secs => %s) WHERE id = %s",
        (hours_ago * 3600, appeal_id),
    )
    return appeal_id


def _sensor_appeal(conn: psycopg.Connection[Any]) -> int:
    devices = register_city(conn)
    incident = insert_incident(
        conn,
        make_incident(
            IncidentType.STUCK_PHASE,
            "tl-kirova-teatralnaya",
            evidence={"phase": "red"},
            # the appeal is dated by this alarm (last_alarm_at): three minutes ago
            started_at=datetime.now(UTC) - timedelta(minutes=10),
        ),
    )
    writer = AppealWriter(routing=load_routing())
    writer.incident_changed(conn, incident, devices[incident.device_id], IncidentChange.OPENED)
    row = conn.execute("SELECT id FROM appeals WHERE source = 'sensor'").fetchone()
    assert row is not None
    return int(row[0])


def _links(conn: psycopg.Connection[Any]) -> list[tuple[int, int, str]]:
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT appeal_id, linked_id, reason FROM appeal_links ORDER BY appeal_id, linked_id"
        )
    ]


def test_haversine() -> None:
    assert haversine_m(LAT, LON, LAT + 300 / M_PER_DEG, LON) == pytest.approx(300, rel=0.01)
    assert haversine_m(55.7558, 37.6173, 59.9343, 30.3351) == pytest.approx(634_000, rel=0.01)


def test_citizen_report_before_the_sensor_appeal_is_confirmed(db_url: str) -> None:
    with connect(db_url) as conn:
        near = _citizen(conn, metres_north=120, hours_ago=1)
        far = _citizen(conn, metres_north=900, hours_ago=1)
        old = _citizen(conn, metres_north=50, hours_ago=3)  # outside the 2 h window
        other_sector = _citizen(conn, metres_north=20, service_code="waste")
        sensor = _sensor_appeal(conn)  # correlation runs at sensor appeal creation
        assert _links(conn) == [(near, sensor, "confirms")]
        assert load_appeal(conn, near).confirmed_by_sensors
        for other in (far, old, other_sector):
            assert not load_appeal(conn, other).confirmed_by_sensors
            assert load_appeal(conn, other).group_id is None
        assert load_appeal(conn, sensor).group_id == near  # the first appeal leads the group
        assert load_appeal(conn, near).group_id is None
        note = conn.execute(
            "SELECT note FROM appeal_events WHERE appeal_id = %s ORDER BY id DESC LIMIT 1", (near,)
        ).fetchone()
        assert note is not None
        assert note[0].startswith(f"Подтверждено датчиками: обращение №{sensor}, 120 м")


def test_citizen_report_during_an_open_sensor_appeal_is_confirmed(db_url: str) -> None:
    routing = load_routing()
    with connect(db_url) as conn:
        sensor = _sensor_appeal(conn)
        # The sensor appeal is still open 5 h later: a report then confirms it.
        conn.execute(
            "UPDATE appeals SET requested_at = now() - interval '5 hours' WHERE id = %s", (sensor,)
        )
        late = _citizen(conn, metres_north=-250)
        result = correlate(conn, late, routing.correlation)
        assert [(link.appeal_id, link.linked_id, link.reason) for link in result.links] == [
            (late, sensor, "confirms")
        ]
        assert result.links[0].distance_m == pytest.approx(250, rel=0.02)
        assert load_appeal(conn, late).group_id == sensor
        # A second citizen nearby is a duplicate of the first, in the same group.
        dup = _citizen(conn, metres_north=-200)
        correlate(conn, dup, routing.correlation)
        assert (dup, late, "duplicate") in _links(conn)
        assert (dup, sensor, "confirms") in _links(conn)
        assert load_appeal(conn, dup).group_id == sensor
        # Running it again links nothing new.
        assert correlate(conn, dup, routing.correlation).links == ()


def test_resolved_sensor_appeal_stops_matching_after_the_window(db_url: str) -> None:
    routing = load_routing()
    with connect(db_url) as conn:
        sensor = _sensor_appeal(conn)
        conn.execute(
            "UPDATE appeals SET status = 'resolved', requested_at = now() - interval '8 hours',"
            " resolved_at = now() - interval '3 hours' WHERE id = %s",
            (sensor,),
        )
        late = _citizen(conn, metres_north=10)
        assert correlate(conn, late, routing.correlation).links == ()
        conn.execute(
            "UPDATE appeals SET resolved_at = now() - interval '1 hour' WHERE id = %s", (sensor,)
        )
        assert len(correlate(conn, late, routing.correlation).links) == 1
