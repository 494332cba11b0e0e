"""Running the API: a connection pool with timeouts, uvicorn, and background services.

``serve`` runs uvicorn in the calling thread and each background service (the outbox
delivery worker, say) in its own thread; when the server stops, the services are told
to stop and joined.  A background service is anything with a
``run(stop: threading.Event)`` that returns soon after ``stop`` is set; one that is a
context manager (opens a pool, say) is entered before it runs and exited after it
stopped; its thread is named after its ``name`` or ``worker_id``.  What belongs on the
server's own event loop runs in the app's ASGI lifespan (uvicorn's is on): a Starlette app
without one has an empty lifespan, and an app whose startup fails does not serve
(uvicorn logs why and exits 3; in a thread, :class:`ServerStartError`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import psycopg_pool
import uvicorn
from starlette.applications import Starlette

from appeals._errors import ServerStartError
from citypulse import DatabaseError, mask_url
from citypulse.db import connect

log = logging.getLogger(__name__)


class BackgroundService(Protocol):
    """Runs in its own thread beside the API until ``stop`` is set."""

    def run(self, stop: threading.Event) -> None: ...


def _name(service: BackgroundService) -> str:
    for attr in ("name", "worker_id"):
        value = getattr(service, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(service).__name__


def open_pool(
    url: str,
    *,
    max_size: int = 10,
    connect_timeout: float = 5.0,
    statement_timeout_ms: int = 10_000,
    wait_timeout: float = 15.0,
    application_name: str = "citypulse-api",
) -> psycopg_pool.ConnectionPool[Any]:
    """An open pool whose connections time out connecting, in statements and when idle in
    a transaction; :class:`DatabaseError` if no connection comes within ``wait_timeout``,
    or at once (:class:`DatabaseUnavailable` when worth retrying) if the first one fails."""
    # One connection first, so that a server that cannot be reached or refuses the login
    # is one clear error within connect_timeout, not a pool that retries (and logs each
    # attempt) until wait_timeout.
    connect(url, application_name=application_name, connect_timeout=connect_timeout).close()
    pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=5.0,
        max_waiting=200,
        reconnect_timeout=300.0,
        name=application_name,
        kwargs={
            "connect_timeout": max(1, round(connect_timeout)),
            "application_name": application_name,
            "options": f"-c statement_timeout={statement_timeout_ms}"
            " -c idle_in_transaction_session_timeout=30000",
        },
    )
    try:
        pool.open(wait=True, timeout=wait_timeout)
    except psycopg_pool.PoolTimeout as exc:
        pool.close(timeout=1.0)
        raise DatabaseError(f"cannot connect to {mask_url(url)} within {wait_timeout} s") from exc
    return pool


def uvicorn_server(app: Starlette, *, host: str, port: int) -> uvicorn.Server:
    # No access log: a query string may carry an api_key, and logs must never hold one.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_keep_alive=5,
        limit_concurrency=500,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def serve(
    app: Starlette,
    *,
    host: str,
    port: int,
    services: Sequence[BackgroundService] = (),
    join_timeout: float = 15.0,
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, with ``services`` running beside it."""
    with contextlib.ExitStack() as stack:
        _serve(app, host=host, port=port, services=_enter(stack, services), timeout=join_timeout)


def _enter(
    stack: contextlib.ExitStack, services: Sequence[BackgroundService]
) -> Sequence[BackgroundService]:
    for service in services:
        if isinstance(service, contextlib.AbstractContextManager):
            stack.enter_context(service)
    return services


def _serve(
    app: Starlette,
    *,
    host: str,
    port: int,
    services: Sequence[BackgroundService],
    timeout: float,
) -> None:
    stop, threads = _start(services)
    # uvicorn stops gracefully on SIGTERM and then re-raises it to the previous handler;
    # a quiet one lets shutdown finish (join the services, close the pool) and exit 0.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None) if main else None
    try:
        uvicorn_server(app, host=host, port=port).run()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        _stop(stop, threads, timeout)


def _start(services: Sequence[BackgroundService]) -> tuple[threading.Event, list[threading.Thread]]:
    stop = threading.Event()
    threads = [
        threading.Thread(target=_supervised, args=(s, stop), name=_name(s), daemon=True)
        for s in services
    ]
    for t in threads:
        t.start()
    return stop, threads


def _stop(stop: threading.Event, threads: list[threading.Thread], timeout: float) -> None:
    stop.set()
    for t in threads:
        t.join(timeout)
        if t.is_alive():
            log.warning("background service %s did not stop within %s s", t.name, timeout)


def _supervised(service: BackgroundService, stop: threading.Event) -> None:
    try:
        service.run(stop)
    except Exception:
        log.exception("background service %s crashed", _name(service))


def _run_quietly(server: uvicorn.Server) -> None:
    # uvicorn exits (1: the port is taken, 3: the app's startup failed) after logging why;
    # in a thread that is ServerStartError for serve_in_thread's caller, not an exit.
    with contextlib.suppress(SystemExit):
        server.run()


@contextlib.contextmanager
def serve_in_thread(
    app: Starlette,
    *,
    host: str = "127.0.0.1",
    port: int,
    services: Sequence[BackgroundService] = (),
) -> Iterator[str]:
    """Serve ``app`` (and ``services``) in threads (tests, embedding); yield its base URL;
    stop everything on exit."""
    server = uvicorn_server(app, host=host, port=port)
    thread = threading.Thread(target=_run_quietly, args=(server,), name=f"api-{port}", daemon=True)
    thread.start()
    deadline = threading.Event()
    for _ in range(200):
        if server.started or not thread.is_alive():
            break
        deadline.wait(0.05)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        raise ServerStartError(host, port)
    with contextlib.ExitStack() as stack:
        stop, threads = _start(_enter(stack, services))
        try:
            yield f"http://{host}:{port}"
        finally:
            _stop(stop, threads, 15.0)
            server.should_exit = True
            thread.join(15)
