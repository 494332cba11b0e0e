"""The console on a real HTTP server (uvicorn in a thread, a free port) beside the API,
over a fresh migrated database with the preset city's devices and one key per role;
the live-updates service runs too, and the console's lifespan (devices' state) on the
server's loop."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from appeals import Api, KeyStore, add_key, load_routing, open_pool, serve_in_thread
from citypulse.db import connect, upsert_devices
from console import Console, Live, Presence, SessionCodec, application
from simulator import preset_city
from tests._procs import free_port

PARKING = "МКУ «Городские парковки»"
CONNECTORS = ("webhook",)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class LiveConsole:
    url: str
    db_url: str
    reporter_key: str
    operator_key: str
    parking_key: str  # an operator limited to the parking agency
    admin_key: str
    app: Starlette  # what the server serves (its state: the console's lifespan's)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)

    @contextlib.contextmanager
    def signed_in(self, key: str | None = None) -> Iterator[httpx.Client]:
        """A client with a session (signed in with ``key``, the operator's by default)."""
        with self.client() as client:
            r = sign_in(client, key or self.operator_key)
            assert r.status_code == 303, r.text
            yield client


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: httpx.Client, key: str) -> httpx.Response:
    form = client.get("/console/login")
    assert form.status_code == 200, form.text
    return client.post("/console/login", data={"csrf": csrf_of(form.text), "key": key})


@pytest.fixture
def console_presence() -> Presence | None:
    """The devices' live state service the console runs with (none unless a test module
    overrides this fixture)."""
    return None


@pytest.fixture
def live_console(db_url: str, console_presence: Presence | None) -> Iterator[LiveConsole]:
    with connect(db_url) as conn:
        upsert_devices(conn, preset_city().devices())
        reporter = add_key(conn, name="test-reporter", role="reporter")
        operator = add_key(conn, name="test-operator", role="operator")
        parking = add_key(conn, name="parking-operator", role="operator", agency=PARKING)
        admin = add_key(conn, name="test-admin", role="admin")
        conn.commit()
    pool = open_pool(db_url, max_size=4, application_name="citypulse-console-test")
    routing = load_routing()
    keys = KeyStore()
    live = Live(database_url=db_url, heartbeat_s=1.0, max_stream_s=20.0, retry_s=0.5)
    try:
        api = Api(pool=pool, routing=routing, keys=keys, connectors=CONNECTORS).app()
        console = Console(
            pool=pool,
            routing=routing,
            keys=keys,
            codec=SessionCodec(secret=secrets.token_bytes(32)),
            connectors=CONNECTORS,
            live=live,
            presence=console_presence,
        )
        app = application(api, console)
        with serve_in_thread(app, port=free_port(), services=[live]) as url:
            assert live.listening.wait(10), "the live-updates service did not LISTEN"
            yield LiveConsole(url, db_url, reporter, operator, parking, admin, app)
    finally:
        pool.close(timeout=5.0)
