"""The Open311 client connector against a small real GeoReport v2 server."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from citypulse import Secret
from citypulse.db import connect
from connectors import Backoff, DeliveryWorker, Open311Connector
from tests.connectors._open311_server import Open311Server
from tests.connectors._rows import enqueue, insert_appeal, outbox_state, service_request

API_KEY = "edge-instance-key"


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def remote() -> Iterator[Open311Server]:
    with Open311Server(api_key=API_KEY) as server:
        yield server


def worker(db_url: str, remote: Open311Server, *, api_key: str = API_KEY) -> DeliveryWorker:
    return DeliveryWorker(
        database_url=db_url,
        connectors=[
            Open311Connector(base_url=remote.url, api_key=Secret(api_key), jurisdiction="kaluga")
        ],
        timeout=1.0,
        backoff=Backoff(base=0.05, cap=0.2),
        lease=10.0,
        rng=random.Random(3),
    )


def drain(w: DeliveryWorker, conn: psycopg.Connection[Any], rounds: int = 40) -> None:
    """Run rounds until nothing is pending (retries are due within a few tenths of a s)."""
    for _ in range(rounds):
        w.run_once()
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"
        ).fetchone()
        if row is not None and row[0] == 0:
            return
        conn.execute("SELECT pg_sleep(0.1)")
    raise AssertionError("outbox not drained")


def test_posts_form_and_stores_remote_id(
    db_url: str, conn: psycopg.Connection[Any], remote: Open311Server
) -> None:
    appeal = insert_appeal(conn)
    entry = enqueue(conn, appeal, connector="open311", key="citypulse-appeal-5-created")
    with worker(db_url, remote) as w:
        drain(w, conn)
    row = outbox_state(conn)[entry]
    assert row["remote_id"] == "R-1"
    assert row["last_status"] == 201
    form, hdrs = remote.posts[0]
    assert hdrs["Idempotency-Key"] == "citypulse-appeal-5-created"
    assert form["api_key"] == API_KEY
    assert form["jurisdiction_id"] == "kaluga"
    assert form["service_code"] == "traffic_light"
    assert (float(form["lat"]), float(form["long"])) == (54.5138, 36.2612)
    assert form["address_string"] == "ул. Кирова, 1"
    assert form["attribute[external_id]"] == "citypulse-appeal-5-created"
    assert form["attribute[sector]"] == "Дороги"
    assert form["attribute[priority]"] == "3"
    assert form["description"].startswith("Светофорный объект")
    assert form["description"].endswith("[citypulse:citypulse-appeal-5-created]")


def test_lost_response_does_not_create_a_second_request(
    db_url: str, conn: psycopg.Connection[Any], remote: Open311Server
) -> None:
    remote.post_faults = ["stall"]  # created remotely, but the client times out
    entry = enqueue(conn, insert_appeal(conn), connector="open311")
    with worker(db_url, remote) as w:
        drain(w, conn)
        counters = w.counters
    assert len(remote.requests) == 1
    assert len(remote.posts) == 1  # the retry found it and did not post again
    row = outbox_state(conn)[entry]
    assert row["delivered_at"] is not None
    assert row["remote_id"] == "R-1"
    assert row["attempts"] == 2
    assert counters.retried == 1
    assert any("requests.json?" in g for g in remote.gets)


def test_server_error_then_posted_once(
    db_url: str, conn: psycopg.Connection[Any], remote: Open311Server
) -> None:
    remote.post_faults = ["503", "503"]
    entries = [enqueue(conn, insert_appeal(conn), connector="open311") for _ in range(3)]
    with worker(db_url, remote) as w:
        drain(w, conn)
    state = outbox_state(conn)
    assert len(remote.requests) == 3
    assert sorted(state[e]["remote_id"] for e in entries) == ["R-1", "R-2", "R-3"]


def test_refusals_fail_permanently(
    db_url: str, conn: psycopg.Connection[Any], remote: Open311Server
) -> None:
    unknown = enqueue(
        conn,
        (a := insert_appeal(conn)),
        connector="open311",
        payload=service_request(a, service_code="potholes"),
    )
    nowhere = enqueue(
        conn,
        (b := insert_appeal(conn)),
        connector="open311",
        payload=service_request(b, lat=None, long=None, address=""),
    )
    with worker(db_url, remote) as w:
        drain(w, conn)
    state = outbox_state(conn)
    assert state[unknown]["last_status"] == 400
    assert "unknown service_code" in state[unknown]["last_error"]
    assert state[unknown]["attempts"] == 1
    assert state[nowhere]["failed_at"] is not None
    assert "neither lat/long nor an address" in state[nowhere]["last_error"]
    assert remote.requests == {}


def test_a_report_located_by_address_id_only_is_forwarded_with_it(
    db_url: str, conn: psycopg.Connection[Any], remote: Open311Server
) -> None:
    entry = enqueue(
        conn,
        (a := insert_appeal(conn)),
        connector="open311",
        payload=service_request(a, lat=None, long=None, address="", address_id="fias-4021"),
    )
    with worker(db_url, remote) as w:
        drain(w, conn)
    assert outbox_state(conn)[entry]["remote_id"] == "R-1"
    form, _ = remote.posts[0]
    assert form["address_id"] == "fias-4021"
    assert "lat" not in form
    assert "address_string" not in form

    with worker(db_url, remote, api_key="wrong") as w:
        late = enqueue(conn, insert_appeal(conn), connector="open311")
        drain(w, conn)
    assert outbox_state(conn)[late]["last_status"] == 403


def test_updated_event_and_status_sync(
    db_url: str, conn: psycopg.Connection[Any], remote: Open311Server
) -> None:
    appeal = insert_appeal(conn)
    created = enqueue(conn, appeal, connector="open311")
    updated = enqueue(conn, appeal, connector="open311", event="updated")
    with worker(db_url, remote) as w:
        drain(w, conn)
        state = outbox_state(conn)
        assert state[updated]["delivered_at"] is not None
        assert state[updated]["remote_id"] == "R-1"  # no call: GeoReport v2 cannot update
        assert len(remote.posts) == 1

        assert w.sync_status_once(interval=0) == 1  # first sight: open
        assert w.sync_status_once(interval=0) == 0  # unchanged: no new event
        remote.close_request("R-1", "Светофор отремонтирован")
        assert w.sync_status_once(interval=0) == 1
        assert w.sync_status_once(interval=0) == 0  # the appeal is closed: no more polling
        assert w.counters.status_checks == 3
    status = conn.execute("SELECT status, closed_at FROM appeals WHERE id = %s", (appeal,))
    row = status.fetchone()
    assert row is not None
    assert row[0] == "closed"
    assert row[1] is not None
    events = conn.execute(
        "SELECT status, note, actor FROM appeal_events WHERE appeal_id = %s ORDER BY id",
        (appeal,),
    ).fetchall()
    assert [e[0] for e in events] == ["new", "closed"]
    assert "Светофор отремонтирован" in events[1][1]
    assert events[1][2] == "connector:open311"
    remote_row = conn.execute(
        "SELECT remote_status, remote_status_notes FROM outbox WHERE id = %s", (created,)
    ).fetchone()
    assert remote_row == ("closed", "Светофор отремонтирован")


def test_token_is_resolved_to_an_id_by_the_status_sync(
    db_url: str, conn: psycopg.Connection[Any], remote: Open311Server
) -> None:
    remote.tokens = True
    entry = enqueue(conn, insert_appeal(conn), connector="open311")
    with worker(db_url, remote) as w:
        drain(w, conn)
        assert outbox_state(conn)[entry]["remote_id"] == "token:T-R-1"
        assert w.sync_status_once(interval=0) == 1
    assert outbox_state(conn)[entry]["remote_id"] == "R-1"
    assert any("/tokens/T-R-1.json" in g for g in remote.gets)
