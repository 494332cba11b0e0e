"""A real webhook receiver on 127.0.0.1: verifies signatures, dedupes, fails on demand.

``plan(n, key)`` decides what the n-th request (1-based, all requests counted) gets:
``ok``, ``500``, ``429`` (with ``Retry-After: 1``), ``400``, or ``timeout`` (the event is
processed, then the answer comes only after the client has given up, as when a response
is lost).  Processing dedupes on the Idempotency-Key, as docs/webhooks.md tells receivers.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from connectors import WebhookSignatureError, verify_webhook
from tests.connectors._local_server import LocalServer, QuietHandler

Plan = Callable[[int, str], str]


def always_ok(n: int, key: str) -> str:
    return "ok"


class WebhookReceiver(LocalServer):
    def __init__(
        self, secret: str, *, port: int = 0, plan: Plan = always_ok, stall: float = 2.0
    ) -> None:
        self.secret = secret
        self.plan = plan
        self.stall = stall
        self.lock = threading.Lock()
        self.requests = 0
        self.arrivals: Counter[str] = Counter()  # verified requests per idempotency key
        self.processed: dict[str, dict[str, Any]] = {}  # first body per key
        self.processings: Counter[str] = Counter()  # times each key was acted upon
        self.order: list[tuple[int, str]] = []  # (appeal_id, event) in processing order
        self.rejected: list[str] = []
        self.actions: Counter[str] = Counter()
        receiver = self

        class Handler(QuietHandler):
            def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
                body = b'{"ok": true}' if status < 300 else b'{"error": "try later"}'
                self.send_body(
                    status, body, {"Content-Type": "application/json", **(headers or {})}
                )

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    verify_webhook(receiver.secret, self.headers.items(), body)
                except WebhookSignatureError as exc:
                    with receiver.lock:
                        receiver.rejected.append(exc.reason)
                    self._answer(401)
                    return
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.requests += 1
                    receiver.arrivals[key] += 1
                    action = receiver.plan(receiver.requests, key)
                    receiver.actions[action] += 1
                if action == "500":
                    self._answer(500)
                elif action == "429":
                    self._answer(429, {"Retry-After": "1"})
                elif action == "400":
                    self._answer(400)
                else:
                    receiver.process(key, json.loads(body))
                    if action == "timeout":
                        time.sleep(receiver.stall)
                    self._answer(200)

        super().__init__(Handler, port)
        self.url = f"http://127.0.0.1:{self.port}/hooks/citypulse"

    def process(self, key: str, document: dict[str, Any]) -> None:
        """Act on an event once per idempotency key."""
        with self.lock:
            if key in self.processed:
                return
            self.processed[key] = document
            self.processings[key] += 1
            self.order.append((int(document["appeal_id"]), str(document["event"])))
