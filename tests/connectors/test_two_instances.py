"""Two citypulse instances over real HTTP: an edge one delivers its sensor appeals to a
central one's Open311 API, which is down at first; every appeal arrives exactly once, and
an operator closing it centrally is synced back to the edge's appeal and incident."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from appeals import AppealWriter, load_routing
from appeals._api import Api
from appeals._auth import KeyStore, add_key
from appeals._server import open_pool, serve_in_thread
from citypulse import IncidentChange, IncidentType, Secret
from citypulse.db import connect, upsert_devices
from connectors import Backoff, DeliveryWorker, Open311Connector
from simulator import preset_city
from tests._procs import free_port
from tests.appeals._db import count, insert_incident, register_city
from tests.appeals._devices import make_incident
from tests.connectors._rows import pending
from tests.fix_db import PgServer

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Central:
    db_url: str
    port: int
    reporter_key: str
    operator_key: str

    @property
    def open311(self) -> str:
        return f"http://127.0.0.1:{self.port}/open311/v2"

    @contextmanager
    def running(self) -> Iterator[str]:
        pool = open_pool(self.db_url, max_size=4, application_name="central-test")
        try:
            app = Api(pool=pool, routing=load_routing(), keys=KeyStore(), connectors=()).app()
            with serve_in_thread(app, port=self.port) as url:
                yield url
        finally:
            pool.close(timeout=5.0)


@pytest.fixture
def central(pg_server: PgServer, plain_template: str) -> Iterator[Central]:
    name = pg_server.create_database(template=plain_template)
    url = pg_server.url(name)
    with connect(url) as conn:
        upsert_devices(conn, preset_city().devices())
        reporter = add_key(conn, name="edge-instance", role="reporter")
        operator = add_key(conn, name="central-operator", role="operator")
        conn.commit()
    yield Central(url, free_port(), reporter, operator)
    pg_server.drop_database(name)


def _edge_appeals(db_url: str) -> list[int]:
    """Three sensor incidents of different blocks, each turned into an appeal + outbox row."""
    writer = AppealWriter(routing=load_routing(), connectors=("open311",))
    incidents = [
        make_incident(IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya", value=420.0,
                      limit_value=120.0, unit="s", severity=2, evidence={"phase": "red"}),
        make_incident(IncidentType.AIR_QUALITY_EXCEEDANCE, "eco-leninsky-1", value=0.21,
                      limit_value=0.16, unit="mg/m³", severity=3, evidence={"metric": "pm25"}),
        make_incident(IncidentType.DEVICE_SILENT, "cam-kirova-teatralnaya-n", value=900.0,
                      limit_value=180.0, unit="s", severity=2),
    ]  # fmt: skip
    ids = []
    with connect(db_url) as conn:
        devices = register_city(conn)
        for incident in incidents:
            stored = insert_incident(conn, incident)
            writer.incident_changed(conn, stored, devices[stored.device_id], IncidentChange.OPENED)
            ids.append(stored.id)
        conn.commit()
    return ids


def _worker(db_url: str, central: Central) -> DeliveryWorker:
    return DeliveryWorker(
        database_url=db_url,
        connectors=[
            Open311Connector(base_url=central.open311, api_key=Secret(central.reporter_key))
        ],
        timeout=2.0,
        backoff=Backoff(base=0.05, cap=0.3),
        lease=10.0,
        rng=random.Random(5),
    )


def test_edge_delivers_to_central_exactly_once_and_syncs_status_back(
    db_url: str, central: Central
) -> None:
    incident_ids = _edge_appeals(db_url)
    with connect(db_url, autocommit=True) as edge, _worker(db_url, central) as worker:
        assert count(edge, "outbox") == 3
        # Central is down: attempts fail as transient and are rescheduled, none lost.
        for _ in range(3):
            worker.run_once()
        assert pending(edge) == 3
        attempts = edge.execute("SELECT min(attempts), max(last_error) FROM outbox").fetchone()
        assert attempts is not None
        assert attempts[0] >= 1
        assert attempts[1]

        with central.running() as url:
            for _ in range(100):
                worker.run_once()
                if pending(edge) == 0:
                    break
                edge.execute("SELECT pg_sleep(0.1)")
            assert pending(edge) == 0
            assert edge.execute(
                "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL"
            ).fetchone() == (0,)

            # A retry after an ambiguous failure posts again with the same key: still one.
            edge.execute(
                "UPDATE outbox SET delivered_at = NULL, remote_id = NULL, next_attempt_at = now()"
            )
            for _ in range(50):
                worker.run_once()
                if pending(edge) == 0:
                    break
                edge.execute("SELECT pg_sleep(0.1)")

            with connect(central.db_url) as c:
                rows = c.execute(
                    "SELECT id, source, service_code, title FROM appeals ORDER BY id"
                ).fetchall()
            assert len(rows) == 3  # exactly once each
            assert {r[1] for r in rows} == {"citizen"}  # central sees a report from a channel
            remote_ids = {
                r[0] for r in edge.execute("SELECT DISTINCT remote_id FROM outbox").fetchall()
            }
            assert remote_ids == {str(r[0]) for r in rows}
            assert any("Светофорный объект" in r[3] for r in rows)

            # A central operator closes one; the edge's status sync brings it back.
            closed = rows[0][0]
            with httpx.Client(base_url=url, timeout=10.0) as http:
                response = http.post(
                    f"/api/v1/appeals/{closed}/close",
                    headers={"X-API-Key": central.operator_key},
                    json={"note": "Светофор отремонтирован"},
                )
            assert response.status_code == 200, response.text
            assert worker.sync_status_once(interval=0) >= 1

        row = edge.execute(
            "SELECT a.status, i.status FROM appeals a JOIN incidents i ON i.id = a.incident_id"
            " JOIN outbox o ON o.appeal_id = a.id WHERE o.remote_id = %s",
            (str(closed),),
        ).fetchone()
        assert row == ("closed", "closed")
        assert edge.execute(
            "SELECT count(*) FROM incidents WHERE status = 'open' AND id = ANY(%s)",
            (incident_ids,),
        ).fetchone() == (2,)
