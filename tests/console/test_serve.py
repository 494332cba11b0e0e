"""``citypulse serve`` as a real process: starts, serves the API and the console, stops on
SIGTERM, logs no secret."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from appeals import (
    Api,
    KeyStore,
    ServerStartError,
    add_key,
    load_routing,
    open_pool,
    serve,
    serve_in_thread,
)
from citypulse import ConfigError, Settings
from citypulse.db import connect
from tests._procs import free_port
from tests.fix_api import LiveApi
from tests.fix_console import sign_in

OPERATOR_KEY = "op-secret-7f3a9c1e5b"
DB_PASSWORD_MARK = "cp_"  # every generated key starts so; none may reach the log


def _report(c: httpx.Client, key: str) -> str:
    form = {"api_key": key, "service_code": "waste", "lat": "54.51", "long": "36.25"}
    r = c.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 201, r.text
    return str(r.json()[0]["service_request_id"])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"citypulse serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("citypulse serve did not become healthy")


@contextlib.contextmanager
def _serving(
    env: dict[str, str], log_path: Path, *args: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``citypulse serve`` on a free port, healthy, its output in ``log_path``: its URL and
    process; killed on the way out if still running."""
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "citypulse.cli", "serve", "--port", str(port), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, proc)
            yield url, proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_serve_process_answers_and_logs_no_key(db_url: str, tmp_path: Path) -> None:
    with connect(db_url) as conn:
        reporter = add_key(conn, name="edge-1", role="reporter")
        conn.commit()
    env = {
        **os.environ,
        "CITYPULSE_DATABASE_URL": db_url,
        "CITYPULSE_API_KEYS": f"operator:{OPERATOR_KEY}",
        "CITYPULSE_CONNECTORS": "webhook",
        "CITYPULSE_LOG_LEVEL": "DEBUG",
    }
    log_path = tmp_path / "serve.log"
    with _serving(env, log_path, "--pool-size", "2") as (url, proc):
        with httpx.Client(base_url=url, timeout=10.0) as c:
            rid = _report(c, reporter)
            # Keys in every place a client might put them, valid or not.
            c.get("/open311/v2/requests.json", params={"api_key": reporter})
            c.post("/open311/v2/requests.json", data={"api_key": reporter + "x"})
            r = c.post(f"/api/v1/appeals/{rid}/accept", headers={"X-Api-Key": OPERATOR_KEY})
            assert r.status_code == 200, r.text
            # The console is served beside the API, and a sign-in logs no key either.
            assert c.get("/console").headers["location"] == "/console/"
            assert sign_in(c, OPERATOR_KEY).status_code == 303
            with httpx.Client(base_url=url, timeout=10.0) as stranger:
                assert sign_in(stranger, reporter).status_code == 403
            page = c.get(f"/console/appeals/{rid}")
            assert page.status_code == 200
            assert "принято" in page.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    text = log_path.read_text("utf-8", errors="replace")
    assert "service request" in text  # it did log the requests...
    assert "console sign-in: env-1" in text
    assert "CITYPULSE_SESSION_SECRET is not set" in text
    assert OPERATOR_KEY not in text  # ...but never a key
    assert reporter not in text
    assert DB_PASSWORD_MARK not in text
    with connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (2,)  # created, updated


@pytest.mark.slow
def test_serve_stops_promptly_with_a_live_page_open(db_url: str, tmp_path: Path) -> None:
    """An open event stream (a console tab) does not hold SIGTERM's shutdown."""
    env = {
        **os.environ,
        "CITYPULSE_DATABASE_URL": db_url,
        "CITYPULSE_API_KEYS": f"operator:{OPERATOR_KEY}",
        "CITYPULSE_SESSION_SECRET": "s" * 40,
    }
    with (
        _serving(env, tmp_path / "serve.log") as (url, proc),
        httpx.Client(base_url=url, timeout=10.0) as c,
    ):
        assert sign_in(c, OPERATOR_KEY).status_code == 303
        with c.stream("GET", "/console/events") as events:
            assert next(events.iter_lines()).startswith("retry:")
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            took = time.monotonic() - started
    assert took < 5.0, f"shutdown took {took:.1f} s with a live page open"
    text = (tmp_path / "serve.log").read_text("utf-8", errors="replace")
    assert "CITYPULSE_SESSION_SECRET is not set" not in text


def test_connector_names_from_the_environment() -> None:
    settings = Settings.from_env({"CITYPULSE_CONNECTORS": " webhook, open311 "})
    assert settings.connectors == ("webhook", "open311")
    assert Settings.from_env({}).connectors == ()
    with pytest.raises(ConfigError, match="CITYPULSE_CONNECTORS"):
        Settings.from_env({"CITYPULSE_CONNECTORS": "web hook"})
    assert (
        Settings.from_env({"CITYPULSE_GRAFANA_URL": "http://g:3000/"}).grafana_url
        == "http://g:3000"
    )


class _Ticker:
    """A background service that counts its rounds until told to stop; like the delivery
    worker it is a context manager named by ``worker_id``."""

    worker_id = "ticker"

    def __init__(self) -> None:
        self.rounds = 0
        self.stopped = threading.Event()
        self.entered = self.exited = False
        self.thread_name = ""

    def __enter__(self) -> _Ticker:
        self.entered = True
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.stopped.is_set()  # exited only after run() returned
        self.exited = True

    def run(self, stop: threading.Event) -> None:
        assert self.entered
        self.thread_name = threading.current_thread().name
        while not stop.wait(0.01):
            self.rounds += 1
        self.stopped.set()


class _Crasher:
    name = "crasher"

    def run(self, stop: threading.Event) -> None:
        raise RuntimeError("boom")


def test_background_services_run_beside_the_api_and_stop_with_it(live_api: LiveApi) -> None:
    ticker = _Ticker()
    pool = open_pool(live_api.db_url, max_size=1)
    try:
        app = Api(pool=pool, routing=load_routing(), keys=KeyStore()).app()
        with serve_in_thread(app, port=free_port(), services=[ticker, _Crasher()]) as url:
            assert httpx.get(f"{url}/health", timeout=5).status_code == 200
            deadline = time.monotonic() + 5
            while ticker.rounds < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ticker.rounds >= 3
            assert not ticker.stopped.is_set()
        assert ticker.stopped.is_set()
        assert ticker.exited
        assert ticker.thread_name == "ticker"
    finally:
        pool.close()


def test_api_works_as_a_login_with_only_the_citypulse_api_role(db_url: str) -> None:
    login = "cp_api_test_login"
    with connect(db_url, autocommit=True) as conn:
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cp_api_test_login')"
            " THEN CREATE ROLE cp_api_test_login LOGIN; END IF; END $$"
        )
        conn.execute("GRANT citypulse_api TO cp_api_test_login")
        reporter = add_key(conn, name="edge", role="reporter")
        operator = add_key(conn, name="op", role="operator")
    api_url = db_url.replace("postgresql://postgres@", f"postgresql://{login}@", 1)
    pool = open_pool(api_url, max_size=2)
    try:
        app = Api(pool=pool, routing=load_routing(), keys=KeyStore(), connectors=("webhook",)).app()
        with serve_in_thread(app, port=free_port()) as url, httpx.Client(base_url=url) as c:
            rid = _report(c, reporter)
            assert len(c.get("/open311/v2/requests.xml").content) > 100
            r = c.post(f"/api/v1/appeals/{rid}/reject", headers={"X-Api-Key": operator})
            assert r.status_code == 200, r.text
            assert c.get("/health").status_code == 200
    finally:
        pool.close()


class _BrokenLifespan:
    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __aenter__(self) -> None:
        raise RuntimeError("startup failed")

    async def __aexit__(self, *exc: object) -> None:
        return None


def test_an_app_whose_lifespan_startup_fails_does_not_serve() -> None:
    """uvicorn's lifespan is on: a failed startup is an error (exit 3), not a quiet exit 0."""

    app = Starlette(lifespan=_BrokenLifespan)
    with pytest.raises(SystemExit) as exited:
        serve(app, host="127.0.0.1", port=free_port())
    assert exited.value.code == 3
    with pytest.raises(ServerStartError), serve_in_thread(app, port=free_port()):
        pass
