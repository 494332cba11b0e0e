"""A minimal Open311 GeoReport v2 server on 127.0.0.1 (JSON only), for the client tests.

It behaves like a plain third-party server: no idempotency, no ``external_id`` filter,
``attribute[...]`` kept but not returned by ``GET requests``.  ``post_faults`` lists what
the next POSTs get: ``503``, or ``stall`` (the request is created, the answer comes
only after the client has given up).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.connectors._local_server import LocalServer, QuietHandler

PREFIX = "/open311/v2/"


class Open311Server(LocalServer):
    def __init__(self, *, api_key: str, services: tuple[str, ...] = ("traffic_light",)) -> None:
        self.api_key = api_key
        self.services = services
        self.lock = threading.Lock()
        self.requests: dict[str, dict[str, Any]] = {}
        self.posts: list[tuple[dict[str, str], dict[str, str]]] = []  # (form, headers)
        self.gets: list[str] = []
        self.post_faults: list[str] = []
        self.stall = 2.0
        self.tokens = False  # answer POST with a token; the id is known only later
        server = self

        class Handler(QuietHandler):
            def _json(self, status: int, document: object) -> None:
                body = json.dumps(document, ensure_ascii=False).encode()
                self.send_body(status, body, {"Content-Type": "application/json; charset=utf-8"})

            def _error(self, status: int, description: str) -> None:
                self._json(status, [{"code": status, "description": description}])

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                path = urlsplit(self.path).path
                if path != PREFIX + "requests.json":
                    self._error(404, "not found")
                    return
                form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
                with server.lock:
                    server.posts.append((form, dict(self.headers.items())))
                    fault = server.post_faults.pop(0) if server.post_faults else ""
                if fault == "503":
                    self._error(503, "maintenance")
                    return
                if form.get("api_key") != server.api_key:
                    self._error(403, "invalid api_key")
                    return
                if form.get("service_code") not in server.services:
                    self._error(400, "unknown service_code")
                    return
                located = ("lat" in form and "long" in form) or form.get("address_string")
                if not (located or form.get("address_id")):
                    self._error(400, "location required")
                    return
                with server.lock:
                    rid = f"R-{len(server.requests) + 1}"
                    server.requests[rid] = {
                        "service_request_id": rid,
                        "status": "open",
                        "status_notes": "",
                        "service_code": form["service_code"],
                        "description": form.get("description", ""),
                        "agency_responsible": "",
                        "requested_datetime": datetime.now(UTC).isoformat(),
                        "updated_datetime": datetime.now(UTC).isoformat(),
                        "address": form.get("address_string", ""),
                        "lat": float(form["lat"]) if "lat" in form else None,
                        "long": float(form["long"]) if "long" in form else None,
                        "_form": form,
                    }
                if fault == "stall":
                    time.sleep(server.stall)
                if server.tokens:
                    self._json(201, [{"token": f"T-{rid}"}])
                else:
                    self._json(201, [{"service_request_id": rid, "service_notice": ""}])

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with server.lock:
                    server.gets.append(self.path)
                    items = [
                        {k: v for k, v in r.items() if not k.startswith("_")}
                        for r in server.requests.values()
                    ]
                if parts.path == PREFIX + "requests.json":
                    if "service_code" in query:
                        items = [r for r in items if r["service_code"] == query["service_code"]]
                    if "start_date" in query:
                        start = datetime.fromisoformat(query["start_date"])
                        items = [
                            r
                            for r in items
                            if datetime.fromisoformat(r["requested_datetime"]) >= start
                        ]
                    self._json(200, items)
                    return
                if parts.path.startswith(PREFIX + "tokens/"):
                    token = parts.path.removeprefix(PREFIX + "tokens/").removesuffix(".json")
                    rid = token.removeprefix("T-")
                    self._json(200, [{"token": token, "service_request_id": rid}])
                    return
                name = parts.path.removeprefix(PREFIX + "requests/").removesuffix(".json")
                found = [r for r in items if r["service_request_id"] == name]
                if found and parts.path.startswith(PREFIX + "requests/"):
                    self._json(200, found)
                else:
                    self._error(404, "no such request")

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}{PREFIX}"

    def close_request(self, rid: str, notes: str) -> None:
        with self.lock:
            self.requests[rid].update(
                status="closed", status_notes=notes, updated_datetime=datetime.now(UTC).isoformat()
            )
