"""Citizens' reports imported with their own time (``submit_report(received_at=)``): dated
by it, and correlated with sensor appeals by the two appeals' times, not the import's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from appeals import AppealWriter, Report, load_appeal, load_routing, submit_report
from citypulse import IncidentChange, IncidentStatus, IncidentType
from citypulse.db import connect
from tests.appeals._db import insert_incident, register_city
from tests.appeals._devices import make_incident

# 40 m north of tl-kirova-teatralnaya (54.5065, 36.2480)
LAT, LON = 54.5065 + 40 / 111_320, 36.2480


def _sensor_appeal_six_hours_ago(conn: psycopg.Connection[Any]) -> tuple[int, datetime]:
    """A stuck signal seen six hours ago and over 20 minutes later, as a replay writes it."""
    devices = register_city(conn)
    seen = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    incident = insert_incident(
        conn,
        make_incident(
            IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya", started_at=seen, minutes=0
        ),
    )
    device = devices[incident.device_id]
    writer = AppealWriter(routing=load_routing())
    appeal_id = writer.open(conn, incident, device)
    over = replace(
        incident, status=IncidentStatus.RESOLVED, resolved_at=seen + timedelta(minutes=20)
    )
    writer.incident_changed(conn, over, device, IncidentChange.RESOLVED)
    return appeal_id, seen


def _import(conn: psycopg.Connection[Any], at: datetime, key: str) -> int:
    appeal, created = submit_report(
        conn,
        Report(
            service_code="traffic-signal",
            description="Светофор не переключается",
            lat=LAT,
            lon=LON,
            idempotency_key=key,
        ),
        routing=load_routing(),
        connectors=(),
        channel="import",
        actor="test",
        received_at=at,
    )
    assert created
    return appeal.id


def test_an_imported_report_keeps_its_time_and_meets_the_sensor_appeal_of_its_time(
    db_url: str,
) -> None:
    with connect(db_url) as conn:
        sensor, seen = _sensor_appeal_six_hours_ago(conn)
        soon = _import(conn, seen + timedelta(minutes=30), "soon")
        late = _import(conn, seen + timedelta(hours=5), "late")
        conn.commit()
        appeal = load_appeal(conn, soon)
        assert appeal.requested_at == seen + timedelta(minutes=30)
        route = load_routing().route_for_service("traffic-signal")
        assert route is not None
        assert route.deadline is not None
        assert appeal.expected_at == appeal.requested_at + route.deadline
        first = conn.execute(
            "SELECT min(time) FROM appeal_events WHERE appeal_id = %s", (soon,)
        ).fetchone()
        assert first == (appeal.requested_at,)
        links = conn.execute("SELECT appeal_id, linked_id, reason FROM appeal_links").fetchall()
        # 30 min after the sensors saw it: confirmed; 5 h later (the signal long fixed): not
        assert links == [(soon, sensor, "confirms")]
        assert appeal.confirmed_by_sensors
        assert not load_appeal(conn, late).confirmed_by_sensors


def test_a_report_is_never_dated_after_now(db_url: str) -> None:
    with connect(db_url) as conn:
        register_city(conn)
        appeal_id = _import(conn, datetime.now(UTC) + timedelta(days=1), "ahead")
        now = conn.execute("SELECT now()").fetchone()
        assert now is not None
        assert load_appeal(conn, appeal_id).requested_at == now[0]
