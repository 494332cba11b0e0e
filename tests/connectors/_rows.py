"""Appeals and outbox rows written directly with SQL, as the appeals side's writer will."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

_seq = itertools.count(1)


def insert_appeal(conn: psycopg.Connection[Any], *, title: str = "Светофор не работает") -> int:
    """A citizen appeal (citizen: no incident needed); returns its id."""
    row = conn.execute(
        "INSERT INTO appeals (source, channel, external_id, sector, service_code, title,"
        " description, lat, lon, address, district, priority, agency)"
        " VALUES ('citizen', 'test', %s, 'Дороги', 'traffic_light', %s,"
        " 'Светофорный объект на перекрёстке ул. Кирова — ул. Ленина не переключается',"
        " 54.5138, 36.2612, 'ул. Кирова, 1', 'Ленинский', 3, 'МБУ «Дорожное хозяйство»')"
        " RETURNING id",
        (f"ext-{next(_seq)}", title),
    ).fetchone()
    assert row is not None
    return int(row[0])


def service_request(appeal_id: int, **changes: object) -> dict[str, object]:
    """The appeal as an Open311 service request with citypulse's extras."""
    payload: dict[str, object] = {
        "service_request_id": str(appeal_id),
        "service_code": "traffic_light",
        "service_name": "Светофоры",
        "description": "Светофорный объект на перекрёстке ул. Кирова — ул. Ленина: "
        "фаза «красный» не переключается с 08:14 МСК",
        "status": "open",
        "requested_datetime": "2026-11-25T08:21:00+03:00",
        "expected_datetime": "2026-11-25T12:21:00+03:00",
        "address": "ул. Кирова, 1",
        "lat": 54.5138,
        "long": 36.2612,
        "agency_responsible": "МБУ «Дорожное хозяйство»",
        "sector": "Дороги",
        "priority": 3,
        "source": "sensor",
        "incident_id": 17,
        "title": "Светофор не переключается",
        "evidence": {"grafana": "http://grafana/d/citypulse-intersections?var-device=tl-1"},
    }
    payload.update(changes)
    return payload


def enqueue(
    conn: psycopg.Connection[Any],
    appeal_id: int,
    *,
    connector: str,
    event: str = "created",
    payload: dict[str, object] | None = None,
    deliver_by_s: float = 3600.0,
    key: str | None = None,
) -> int:
    """One outbox row; returns its id."""
    row = conn.execute(
        "INSERT INTO outbox (appeal_id, connector, event, idempotency_key, payload, deliver_by)"
        " VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING id",
        (
            appeal_id,
            connector,
            event,
            key or f"citypulse-appeal-{appeal_id}-{event}-{next(_seq)}",
            Jsonb(payload if payload is not None else service_request(appeal_id)),
            deliver_by_s,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def outbox_state(conn: psycopg.Connection[Any]) -> dict[int, dict[str, Any]]:
    """Every outbox row by id, as a dict of its delivery columns."""
    cur = conn.execute(
        "SELECT id, appeal_id, event, idempotency_key, attempts, delivered_at, failed_at,"
        " last_status, last_error, remote_id FROM outbox ORDER BY id"
    )
    names = [d.name for d in cur.description or ()]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def pending(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"
    ).fetchone()
    assert row is not None
    return int(row[0])
