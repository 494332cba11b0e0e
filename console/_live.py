"""Live updates: PostgreSQL notifications (``citypulse_appeals``, sql/0017) become
server-sent events for the console's open pages.

A :class:`Live` is a background service of ``citypulse serve``: one thread LISTENs on
its own connection and hands each notification to the subscribed pages' asyncio queues;
the database coalesces a transaction's notifications into one.  A page's event stream
sends ``changed`` when the appeals changed and a comment every ``heartbeat_s`` so that
proxies keep it open; it ends after ``max_stream_s`` (the browser reconnects by itself),
so no stream holds a shutdown for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from citypulse.db import connect

log = logging.getLogger(__name__)
CHANNEL = "citypulse_appeals"
_Subscriber = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[str]"]


class Live:
    """Fans database notifications out to event streams."""

    name = "console-live"

    def __init__(
        self,
        *,
        database_url: str,
        heartbeat_s: float = 15.0,
        max_stream_s: float = 300.0,
        max_streams: int = 200,
        retry_s: float = 5.0,
    ) -> None:
        self.database_url = database_url
        self.heartbeat_s = heartbeat_s
        self.max_stream_s = max_stream_s
        self.max_streams = max_streams
        self.retry_s = retry_s
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self.listening = threading.Event()

    # --- the listening thread ---------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """LISTEN until ``stop``; reconnect after ``retry_s`` when the database goes away."""
        while not stop.is_set():
            try:
                with connect(self.database_url, autocommit=True) as conn:
                    self._listen(conn, stop)
            except psycopg.OperationalError as exc:
                self.listening.clear()
                log.warning("console live updates: database unavailable (%s); retrying", exc)
                stop.wait(self.retry_s)
        self._publish(None)

    def _listen(self, conn: psycopg.Connection[Any], stop: threading.Event) -> None:
        conn.execute(f"LISTEN {CHANNEL}")  # a constant channel name
        self.listening.set()
        # Whatever changed while we were not listening: tell the pages once.
        self._publish("changed")
        while not stop.is_set():
            for _ in conn.notifies(timeout=1.0):
                self._publish("changed")

    def _publish(self, event: str | None) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            with contextlib.suppress(RuntimeError):  # the page's loop has closed
                loop.call_soon_threadsafe(_offer, queue, event or "")

    # --- the event streams ------------------------------------------------------------------

    def response(self, request: Request) -> Response:
        """A page's event stream (503 when too many are open)."""
        with self._lock:
            if len(self._subscribers) >= self.max_streams:
                return Response(
                    "too many live pages", status_code=503, headers={"Retry-After": "30"}
                )
        return StreamingResponse(
            self._stream(request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(self, request: Request) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        me: _Subscriber = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.add(me)
        try:
            yield f"retry: {round(self.retry_s * 1000)}\n\n"
            ends = time.monotonic() + self.max_stream_s
            while time.monotonic() < ends and not await request.is_disconnected():
                try:
                    async with asyncio.timeout(self.heartbeat_s):
                        event = await queue.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if not event:
                    return  # the service stops
                yield f"event: {event}\ndata: \n\n"
        finally:
            with self._lock:
                self._subscribers.discard(me)


def _offer(queue: asyncio.Queue[str], event: str) -> None:
    """Put ``event`` unless one is already waiting (a burst of changes is one reload); the
    end of the service ("") replaces whatever waits."""
    if not event:
        while not queue.empty():
            queue.get_nowait()
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(event)
