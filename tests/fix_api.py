"""The governance center's API on a real HTTP server (uvicorn in a thread, a free port),
over a fresh migrated database with the preset city's devices and one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from appeals._api import Api
from appeals._auth import KeyStore, add_key
from appeals._routing import load_routing
from appeals._server import open_pool, serve_in_thread
from citypulse import Secret
from citypulse.db import connect, upsert_devices
from simulator import preset_city
from tests._procs import free_port

BOOTSTRAP_OPERATOR_KEY = "bootstrap-operator-key-for-tests"
API_CONNECTORS = ("webhook", "open311")
API_MAX_BODY = 16 * 1024
API_MAX_MEDIA = 256 * 1024


@dataclass(frozen=True)
class LiveApi:
    url: str
    db_url: str
    reporter_key: str
    operator_key: str
    agency_operator_key: str  # limited to the parking agency
    admin_key: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)


@pytest.fixture
def live_api(db_url: str) -> Iterator[LiveApi]:
    with connect(db_url) as conn:
        upsert_devices(conn, preset_city().devices())
        reporter = add_key(conn, name="test-reporter", role="reporter")
        operator = add_key(conn, name="test-operator", role="operator")
        agency_op = add_key(
            conn, name="parking-operator", role="operator", agency="МКУ «Городские парковки»"
        )
        admin = add_key(conn, name="test-admin", role="admin")
        conn.commit()
    pool = open_pool(db_url, max_size=4, application_name="citypulse-api-test")
    try:
        app = Api(
            pool=pool,
            routing=load_routing(),
            keys=KeyStore(bootstrap=(Secret(f"operator:{BOOTSTRAP_OPERATOR_KEY}"),)),
            connectors=API_CONNECTORS,
            max_body=API_MAX_BODY,
            max_media=API_MAX_MEDIA,
        ).app()
        with serve_in_thread(app, port=free_port()) as url:
            yield LiveApi(url, db_url, reporter, operator, agency_op, admin)
    finally:
        pool.close(timeout=5.0)
