"""A database holding a simulated week of a small city, shared by the dashboards' tests.

Filled once per session straight through ingest's decoder and sink (no broker), with
incidents, appeals and ingest counters, then copied per test module from a template.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from citypulse import AIR_LIMITS
from citypulse.db import connect, migrate
from lab._seed import SeedReport, seed_simulation
from simulator import Fault, FaultType, generated_city
from tests.fix_db import PgServer


@dataclass(frozen=True)
class SimulatedWeek:
    url: str
    start: datetime
    end: datetime
    report: SeedReport


def _simulate_week(url: str) -> SimulatedWeek:
    """Two intersections in two districts, seven simulated days ending about now."""
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=7)
    city = generated_city(2, seed=3, block=1)
    # Drawn faults depend on when the week starts; one smog episode is always there, so
    # the exceedance panels have something to show whatever the hour the suite runs.
    smog = Fault(
        "smog-fixture",
        FaultType.AIR_QUALITY_EXCEEDANCE,
        ("eco-tsentralny-1",),
        start + timedelta(days=3),
        start + timedelta(days=3, hours=5),
        {"pollutant": "pm25", "level": round(AIR_LIMITS["pm25"].max_single_in_unit * 1.5, 1)},
    )
    report = seed_simulation(
        url, city, start=start, end=end, seed=5, faults_per_day=8.0, scheduled=[smog]
    )
    _tension_points(url)
    return SimulatedWeek(url, start, end, report)


# The week's busiest 6-hour cells of appeals (sector block × district) as tension points,
# every third kind in turn, the busiest still active: what the tension dashboard reads.
# Written here from the week's own appeals: the computation (appeals.analysis, tested in
# tests/appeals/analysis) needs two weeks of history before it reports a surge, and this
# fixture simulates one; the dashboard's queries only need rows of the table's shape.
_TENSION_CELLS = """
SELECT sector, district, date_bin('6 hours', requested_at, '2000-01-01 00:00+00') AS t,
       count(*) AS n, array_agg(id ORDER BY id) AS ids,
       avg(lat) AS lat, avg(lon) AS lon
FROM appeals GROUP BY 1, 2, 3 ORDER BY n DESC, t DESC LIMIT 12
"""
_TENSION_POINT = """
INSERT INTO tension_points (kind, key, sector, district, score, started_at, ended_at,
                            detected_at, lat, lon, facts)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id
"""


def _tension_points(url: str) -> None:
    kinds = itertools.cycle(("surge", "cluster", "recurrence"))
    with connect(url) as conn:
        cells = conn.execute(_TENSION_CELLS).fetchall()
        assert cells, "the simulated week has no appeals"
        for i, (sector, district, t, n, ids, lat, lon) in enumerate(cells):
            kind = next(kinds)
            facts = {"count": n, "window_h": 6, "normal_low": 0, "normal_high": 1}
            row = conn.execute(
                _TENSION_POINT,
                (kind, f"{kind}:{sector}:{district}:{t.isoformat()}", sector, district,
                 float(n), t, None if i == 0 else t + timedelta(hours=6),
                 t + timedelta(hours=1), lat, lon, Jsonb(facts)),
            ).fetchone()  # fmt: skip
            assert row is not None
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO tension_members (tension_id, appeal_id) VALUES (%s, %s)",
                    [(row[0], a) for a in ids],
                )
        conn.commit()


@pytest.fixture(scope="session")
def simulated_week(pg_server: PgServer, plain_template: str) -> Iterator[SimulatedWeek]:
    """The simulated week in a plain-mode database."""
    name = pg_server.create_database(template=plain_template)
    url = pg_server.url(name)
    yield _simulate_week(url)
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def simulated_week_timescale(pg_server: PgServer) -> Iterator[SimulatedWeek]:
    """The same week in a database migrated in TimescaleDB mode (tests marked timescale)."""
    if not pg_server.timescale:
        pytest.skip("TimescaleDB is not installed on the test server (marked test)")
    name = pg_server.create_database()
    url = pg_server.url(name)
    with connect(url, autocommit=True) as conn:
        migrate(conn, mode="timescale")
    yield _simulate_week(url)
    pg_server.drop_database(name)


# --- a local HTTP server that answers as Grafana's API does ------------------------------


class FakeGrafana:
    """Folders, data sources and dashboards kept in memory, checked as Grafana checks them."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.fail_next = 0  # answer this many requests with fail_status first
        self.fail_status = 503
        self.fail_headers: dict[str, str] = {}  # e.g. Retry-After on those answers
        self.prefix = ""  # the sub-path a reverse proxy serves Grafana under, e.g. /grafana
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.url = ""

    def handle(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Status, JSON document and extra headers of the answer."""
        doc: dict[str, Any] | None = None
        if body:
            if headers.get("Content-Type", "").split(";")[0] != "application/json":
                return 415, {"message": "Content-Type must be application/json"}, {}
            try:
                doc = json.loads(body)
            except ValueError:
                return 400, {"message": "bad request data"}, {}
        with self._lock:
            self.requests.append((method, path, doc))
            if headers.get("Authorization") != f"Bearer {self.token}":
                return 401, {"message": "invalid API key"}, {}
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status, {"message": "failing on purpose"}, self.fail_headers
            if not path.startswith(f"{self.prefix}/api/"):
                return 404, {"message": "Not found"}, {}
            return (*self._route(method, path.removeprefix(self.prefix), doc or {}), {})

    def _route(self, method: str, path: str, doc: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "folders"]:
            return self._folders(method, parts[2] if len(parts) > 2 else None, doc)
        if parts[:2] == ["api", "datasources"]:
            uid = parts[3] if len(parts) > 3 and parts[2] == "uid" else None
            return self._datasources(method, uid, doc)
        if parts == ["api", "dashboards", "db"] and method == "POST":
            return self._save_dashboard(doc)
        return 404, {"message": "Not found"}

    def _folders(self, method: str, uid: str | None, doc: dict[str, Any]) -> tuple[int, Any]:
        if method == "GET" and uid:
            folder = self.folders.get(uid)
            return (200, folder) if folder else (404, {"message": "folder not found"})
        if method == "POST" and uid is None:
            if not doc.get("title"):
                return 400, {"message": "folder title cannot be empty"}
            new_uid = doc.get("uid") or f"f{next(self._ids)}"
            if new_uid in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            self.folders[new_uid] = {
                "id": next(self._ids),
                "uid": new_uid,
                "title": doc["title"],
                "version": 1,
            }
            return 200, self.folders[new_uid]
        if method == "PUT" and uid:
            folder = self.folders.get(uid)
            if folder is None:
                return 404, {"message": "folder not found"}
            if not doc.get("overwrite") and doc.get("version") != folder["version"]:
                return 412, {"message": "the folder has been changed by someone else"}
            folder.update(title=doc.get("title", folder["title"]), version=folder["version"] + 1)
            return 200, folder
        return 405, {"message": "method not allowed"}

    def _datasources(self, method: str, uid: str | None, doc: dict[str, Any]) -> tuple[int, Any]:
        if method == "GET" and uid:
            ds = self.datasources.get(uid)
            return (200, ds) if ds else (404, {"message": "Data source not found"})
        if method in ("POST", "PUT") and not (doc.get("name") and doc.get("type")):
            return 400, {"message": "name and type are required"}
        if method == "POST" and uid is None:
            taken = any(d["name"] == doc["name"] for d in self.datasources.values())
            if doc.get("uid") in self.datasources or taken:
                return 409, {"message": "data source with the same name already exists"}
            ds = {**doc, "id": next(self._ids), "version": 1}
            self.datasources[ds["uid"]] = ds
            return 200, {"datasource": ds, "id": ds["id"], "message": "Datasource added"}
        if method == "PUT" and uid:
            old = self.datasources.get(uid)
            if old is None:
                return 404, {"message": "Data source not found"}
            ds = {**doc, "id": old["id"], "version": old["version"] + 1}
            if "secureJsonData" not in doc and "secureJsonData" in old:
                ds["secureJsonData"] = old["secureJsonData"]
            self.datasources[uid] = ds
            return 200, {"datasource": ds, "id": ds["id"], "message": "Datasource updated"}
        return 405, {"message": "method not allowed"}

    def _save_dashboard(self, doc: dict[str, Any]) -> tuple[int, Any]:
        board = doc.get("dashboard")
        if not isinstance(board, dict) or not board.get("title"):
            return 400, {"message": "Dashboard title cannot be empty"}
        folder = doc.get("folderUid")
        if folder and folder not in self.folders:
            return 400, {"message": "folder not found"}
        uid = str(board.get("uid") or f"generated-{next(self._ids)}")
        old = self.dashboards.get(uid)
        if old is not None and not doc.get("overwrite"):
            return 412, {
                "status": "name-exists",
                "message": "A dashboard with the same uid already exists",
            }
        if board.get("id") not in (None, old and old["id"]):
            return 404, {"message": "Dashboard not found"}
        version = old["version"] + 1 if old else 1
        stored = {
            "id": old["id"] if old else next(self._ids),
            "uid": uid,
            "version": version,
            "folderUid": folder,
            "model": board,
        }
        self.dashboards[uid] = stored
        slug = str(board["title"]).lower().replace(" ", "-")
        return 200, {
            "id": stored["id"],
            "uid": uid,
            "url": f"/d/{uid}/{slug}",
            "status": "success",
            "version": version,
            "slug": slug,
        }


@pytest.fixture
def fake_grafana() -> Iterator[FakeGrafana]:
    """A fake Grafana on 127.0.0.1 (token ``test-token``)."""
    fake = FakeGrafana("test-token")

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, doc, headers = fake.handle(self.command, self.path, self.headers, body)
            data = json.dumps(doc).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-grafana", daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
