"""AppealWriter against a real database, inside the incident's transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from appeals import AppealWriter, TransitionRefused, load_appeal, load_routing, transition
from citypulse import (
    AppealStatus,
    Device,
    Incident,
    IncidentChange,
    IncidentStatus,
    IncidentType,
    Settings,
)
from citypulse.db import connect
from tests.appeals._db import count, insert_incident, register_city
from tests.appeals._devices import T0, make_incident

CONNECTORS = ("webhook", "open311")


def _writer() -> AppealWriter:
    return AppealWriter(
        routing=load_routing(), connectors=CONNECTORS, grafana_url="http://grafana.test:3000/"
    )


def _stuck(device_id: str = "tl-kirova-teatralnaya", started_at: datetime = T0) -> object:
    return make_incident(
        IncidentType.STUCK_PHASE,
        device_id,
        started_at=started_at,
        value=420.0,
        limit_value=120.0,
        unit="s",
        severity=2,
        evidence={"phase": "red"},
    )


def _open_stuck(conn: psycopg.Connection[Any], writer: AppealWriter) -> tuple[Incident, Device]:
    """The city registered, a stuck signal's incident stored and its appeal opened."""
    devices = register_city(conn)
    incident = insert_incident(conn, _stuck())  # type: ignore[arg-type]
    device = devices[incident.device_id]
    writer.incident_changed(conn, incident, device, IncidentChange.OPENED)
    return incident, device


def test_writer_from_settings() -> None:
    settings = Settings.from_env(
        {"CITYPULSE_CONNECTORS": "webhook", "CITYPULSE_GRAFANA_URL": "https://g.example/"}
    )
    writer = AppealWriter.from_settings(settings)
    assert writer.connectors == ("webhook",)
    assert writer.grafana_url == "https://g.example"
    assert writer.routing.region == "Калужская область"
    assert writer.locale == "ru"  # the routing file's
    english = Settings.from_env({"CITYPULSE_LOCALE": "en"})
    assert AppealWriter.from_settings(english).locale == "en"


def test_rollback_leaves_nothing(db_url: str) -> None:
    with connect(db_url) as conn:
        devices = register_city(conn)
        conn.commit()
        incident = insert_incident(conn, _stuck())  # type: ignore[arg-type]
        _writer().incident_changed(
            conn, incident, devices[incident.device_id], IncidentChange.OPENED
        )
        assert count(conn, "appeals") == 1  # visible inside the transaction
        conn.rollback()
        for table in ("incidents", "appeals", "appeal_events", "outbox"):
            assert count(conn, table) == 0, table


def test_commit_leaves_one_appeal_with_history_and_one_outbox_row_per_connector(
    db_url: str,
) -> None:
    writer = _writer()
    with connect(db_url) as conn:
        incident, device = _open_stuck(conn, writer)
        conn.commit()
        # A retried call (the worker re-running its transaction) adds nothing.
        writer.incident_changed(conn, incident, device, IncidentChange.OPENED)
        conn.commit()
        assert count(conn, "appeals") == 1
        assert count(conn, "appeal_events") == 1
        rows = conn.execute(
            "SELECT connector, event, idempotency_key, payload FROM outbox ORDER BY connector"
        ).fetchall()
        assert [r[0] for r in rows] == ["open311", "webhook"]
        appeal_id = conn.execute("SELECT id FROM appeals").fetchone()[0]  # type: ignore[index]
        event_id = conn.execute("SELECT id FROM appeal_events").fetchone()[0]  # type: ignore[index]
        for _, event, key, payload in rows:
            assert event == "created"
            assert key == f"appeal-{appeal_id}-created-{event_id}"
            assert payload["service_request_id"] == str(appeal_id)
            assert payload["service_code"] == "traffic-signal"
            assert payload["service_name"] == "Неисправность светофора"
            assert payload["status"] == "open"
            assert payload["sector"] == "Дороги"
            assert payload["agency"] == "МКУ «Управление дорожного хозяйства»"
            assert payload["source"] == "sensor"
            assert payload["incident_id"] == incident.id
            assert payload["priority"] == 4  # the route's priority beats severity 2
            assert payload["lat"] == device.lat
            assert payload["long"] == device.lon
            assert "фаза «красный» не переключается" in payload["title"]
            link = payload["evidence"]["grafana_url"]
            start_ms = int((T0 - timedelta(minutes=30)).timestamp() * 1000)
            assert link.startswith(
                "http://grafana.test:3000/d/citypulse-intersections?var-device=tl-kirova-teatralnaya"
            )
            assert f"&from={start_ms}&to=" in link
            assert payload["evidence"]["facts"] == {"phase": "red"}
        appeal = load_appeal(conn, appeal_id)
        assert appeal.status is AppealStatus.NEW
        assert appeal.district == "Ленинский округ"
        assert appeal.expected_at is not None
        assert appeal.expected_at - appeal.requested_at == timedelta(hours=4)


def test_odd_evidence_does_not_fail_the_transaction(db_url: str) -> None:
    with connect(db_url) as conn:
        devices = register_city(conn)
        odd = {"average": float("nan"), "peak": float("inf"), "at": T0, "pair": (1, 2), "n": {3}}
        incident = insert_incident(
            conn, make_incident(IncidentType.ANOMALY, "eco-leninsky-1", evidence={"metric": "pm10"})
        )
        incident = replace(incident, evidence=odd, value=float("nan"))
        appeal_id = _writer().open(conn, incident, devices["eco-leninsky-1"])
        conn.commit()
        facts = load_appeal(conn, appeal_id).evidence["facts"]
        assert facts == {
            "average": None,
            "peak": None,
            "at": T0.isoformat(),
            "pair": [1, 2],
            "n": [3],
        }


def test_escalation_raises_priority_and_resolution_notes_and_resolves(db_url: str) -> None:
    writer = _writer()
    with connect(db_url) as conn:
        devices = register_city(conn)
        incident = insert_incident(
            conn,
            make_incident(
                IncidentType.CONGESTION,
                "cam-kirova-pushkina-e",
                value=9.0,
                unit="km/h",
                severity=2,
                minutes=144,  # 08:14 to 10:38 in Moscow
            ),
        )
        device = devices[incident.device_id]
        writer.incident_changed(conn, incident, device, IncidentChange.OPENED)
        appeal_id = conn.execute("SELECT id FROM appeals").fetchone()[0]  # type: ignore[index]
        assert load_appeal(conn, appeal_id).priority == 3
        writer.incident_changed(
            conn, replace(incident, severity=4, value=4.0), device, IncidentChange.ESCALATED
        )
        assert load_appeal(conn, appeal_id).priority == 4
        writer.incident_changed(
            conn, replace(incident, severity=3), device, IncidentChange.ESCALATED
        )
        assert load_appeal(conn, appeal_id).priority == 4  # never falls
        resolved = replace(
            incident, status=IncidentStatus.RESOLVED, resolved_at=T0 + timedelta(minutes=146)
        )
        writer.incident_changed(conn, resolved, device, IncidentChange.RESOLVED)
        conn.commit()
        appeal = load_appeal(conn, appeal_id)
        assert appeal.status is AppealStatus.RESOLVED
        notes = [r[0] for r in conn.execute("SELECT note FROM appeal_events ORDER BY id")]
        assert len(notes) == 3
        assert notes[0] == f"Создано автоматически по инциденту №{incident.id}"
        assert notes[1] == (
            "Эскалация в 10:38 МСК: затор с 08:14 МСК, уже 2\u00a0ч 24\u00a0мин; "
            "значение 4\u00a0км/ч; тяжесть — критическая, приоритет повышен до 4."
        )
        # What happened in the end, not a duration frozen at opening.
        assert notes[2] == (
            "Датчики: восстановлено в 10:38 МСК, всего 2\u00a0ч 24\u00a0мин (с 08:14 МСК); "
            "норма подтверждена в 10:40 МСК."
        )
        events = [r[0] for r in conn.execute("SELECT event FROM outbox ORDER BY id")]
        assert events == ["created"] * 2 + ["updated"] * 4


def test_operator_closing_the_appeal_closes_the_incident(db_url: str) -> None:
    writer = _writer()
    routing = load_routing()
    with connect(db_url) as conn:
        devices = register_city(conn)
        incident = insert_incident(conn, _stuck())  # type: ignore[arg-type]
        writer.incident_changed(conn, incident, devices[incident.device_id], IncidentChange.OPENED)
        conn.commit()
        appeal_id = conn.execute("SELECT id FROM appeals").fetchone()[0]  # type: ignore[index]
        kw = {"connectors": CONNECTORS, "routing": routing, "actor": "operator-ivanova"}
        transition(conn, appeal_id, AppealStatus.ACCEPTED, note="принято", **kw)  # type: ignore[arg-type]
        conn.commit()
        status = conn.execute("SELECT status FROM incidents").fetchone()
        assert status == ("open",)  # accepting does not touch the incident
        closed = transition(conn, appeal_id, AppealStatus.CLOSED, note="светофор исправлен", **kw)  # type: ignore[arg-type]
        conn.commit()
        assert closed.status is AppealStatus.CLOSED
        assert closed.closed_at is not None
        assert closed.accepted_at is not None
        row = conn.execute("SELECT status, closed_by, resolved_at, note FROM incidents").fetchone()
        assert row is not None
        assert row[0] == "closed"
        assert row[1] == "operator-ivanova"
        assert row[2] is not None
        assert "светофор исправлен" in row[3]
        with pytest.raises(TransitionRefused):
            transition(conn, appeal_id, AppealStatus.IN_PROGRESS, note="", **kw)  # type: ignore[arg-type]
        conn.rollback()
        # A sensor resolution after the operator closed it changes nothing but the history.
        writer.incident_changed(
            conn,
            replace(incident, status=IncidentStatus.RESOLVED, resolved_at=T0),
            devices[incident.device_id],
            IncidentChange.RESOLVED,
        )
        assert load_appeal(conn, appeal_id).status is AppealStatus.CLOSED


def test_rejecting_closes_the_incident_too(db_url: str) -> None:
    with connect(db_url) as conn:
        devices = register_city(conn)
        incident = insert_incident(conn, _stuck())  # type: ignore[arg-type]
        _writer().incident_changed(
            conn, incident, devices[incident.device_id], IncidentChange.OPENED
        )
        appeal_id = conn.execute("SELECT id FROM appeals").fetchone()[0]  # type: ignore[index]
        transition(
            conn,
            appeal_id,
            AppealStatus.REJECTED,
            note="ложное срабатывание",
            actor="op",
            connectors=(),
            routing=load_routing(),
        )
        conn.commit()
        assert conn.execute("SELECT status, closed_by FROM incidents").fetchone() == (
            "closed",
            "op",
        )


def test_sla_views(db_url: str) -> None:
    with connect(db_url) as conn:
        devices = register_city(conn)
        writer = _writer()
        ids = []
        # seen a quarter of an hour ago: the third appeal's deadline is hours ahead
        recent = datetime.now(UTC) - timedelta(minutes=15)
        for device_id in ("tl-kirova-teatralnaya", "tl-lenina-pushkina", "tl-marksa-suvorova"):
            incident = insert_incident(conn, _stuck(device_id, recent))  # type: ignore[arg-type]
            ids.append(writer.open(conn, incident, devices[device_id]))
        conn.execute(
            "UPDATE appeals SET requested_at = now() - interval '6 hours',"
            " expected_at = now() - interval '2 hours' WHERE id = %s",
            (ids[0],),
        )
        conn.execute(
            "UPDATE appeals SET requested_at = now() - interval '1 hour' WHERE id = %s", (ids[1],)
        )
        kw = {"connectors": (), "routing": load_routing(), "actor": "op", "note": ""}
        transition(conn, ids[1], AppealStatus.ACCEPTED, **kw)  # type: ignore[arg-type]
        transition(conn, ids[1], AppealStatus.RESOLVED, **kw)  # type: ignore[arg-type]
        overdue = conn.execute("SELECT id FROM appeal_sla WHERE overdue").fetchall()
        assert overdue == [(ids[0],)]
        row = conn.execute(
            "SELECT appeals, open, overdue, resolved, accept_s_median, resolve_s_median"
            " FROM agency_performance WHERE agency = %s",
            ("МКУ «Управление дорожного хозяйства»",),
        ).fetchone()
        assert row is not None
        assert row[:4] == (3, 2, 1, 1)
        assert 3500 < row[4] < 3700
        assert 3500 < row[5] < 3700


def test_a_sensor_appeal_is_dated_by_its_evidence(db_url: str) -> None:
    """requested_at is the reading time of the alarm that opened the incident, the deadline
    and the history run from it, and the sensors' resolution is dated when they saw the
    fault end: a replay's appeals carry the simulated times, not the replay's."""
    writer = _writer()
    with connect(db_url) as conn:
        incident, device = _open_stuck(conn, writer)
        escalated = replace(incident, severity=4, last_alarm_at=T0 + timedelta(minutes=20))
        writer.incident_changed(conn, escalated, device, IncidentChange.ESCALATED)
        resolved = replace(
            escalated, status=IncidentStatus.RESOLVED, resolved_at=T0 + timedelta(minutes=40)
        )
        writer.incident_changed(conn, resolved, device, IncidentChange.RESOLVED)
        conn.commit()
        appeal_id = conn.execute("SELECT id FROM appeals").fetchone()[0]  # type: ignore[index]
        appeal = load_appeal(conn, appeal_id)
        assert appeal.requested_at == incident.last_alarm_at == T0 + timedelta(minutes=7)
        assert appeal.expected_at == appeal.requested_at + timedelta(hours=4)
        assert appeal.resolved_at == T0 + timedelta(minutes=40)
        times = [r[0] for r in conn.execute("SELECT time FROM appeal_events ORDER BY id")]
        assert times == [appeal.requested_at, T0 + timedelta(minutes=40)]
        # with no escalation event here (priority 4 already): created, resolved in order
        sla = conn.execute(
            "SELECT resolve_s FROM appeal_sla WHERE id = %s", (appeal_id,)
        ).fetchone()
        assert sla is not None
        assert sla[0] == 33 * 60


def test_a_sensor_appeal_is_never_dated_after_now(db_url: str) -> None:
    writer = _writer()
    with connect(db_url) as conn:
        devices = register_city(conn)
        ahead = datetime.now(UTC) + timedelta(hours=1)  # a device whose clock runs fast
        incident = insert_incident(
            conn, make_incident(IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya", started_at=ahead)
        )
        appeal_id = writer.open(conn, incident, devices[incident.device_id])
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        appeal = load_appeal(conn, appeal_id)
        assert appeal.requested_at == now
        assert appeal.expected_at == now + timedelta(hours=4)
