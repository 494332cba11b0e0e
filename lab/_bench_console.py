"""The console's pages for ``citypulse bench api``: the queue unfiltered and filtered, an
appeal's page with its chart, and the map, each loaded by concurrent signed-in clients,
timed inside the server (an ASGI wrapper: from the request's arrival to the last byte of
its response) so that the figures are the server's, not the clients' on the same
machine."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.rows import scalar_row

from citypulse import percentile

STATION = "eco-leninsky-1"
# Ecology stations report every minute; a day of them, so the chart reads a real index.
_READINGS = """
INSERT INTO ecology_readings (time, device_id, pm25)
SELECT t, d.id, 15 + 10 * sin(extract(epoch FROM t) / 3600) + random() * 5
FROM devices d, generate_series(%s::timestamptz, %s::timestamptz, interval '1 minute') AS t
WHERE d.kind = 'ecology'
"""
_INCIDENT = """
INSERT INTO incidents (type, device_id, severity, started_at, last_alarm_at, detector,
                       score, threshold, value, limit_value, unit, evidence)
VALUES ('air_quality_exceedance', %s, 3, %s, %s, 'bench', 0.95, 0.5, 80, 35, 'µg/m³',
        '{"metric": "pm25", "pollutant": "pm25"}')
RETURNING id
"""
_RESOLVE = """
UPDATE incidents SET status = 'resolved', resolved_at = last_alarm_at + interval '10 minutes'
WHERE id = %s
"""
PAGES = ("queue, unfiltered", "queue, filtered", "appeal with its chart", "map, open appeals")


class Timed:
    """An ASGI app that records each HTTP request's server time under :attr:`phase`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.phase = ""
        self.times: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.times[self.phase].append(time.perf_counter() - began)

    def figures(self, phase: str) -> dict[str, float]:
        flat = sorted(self.times[phase])
        if not flat:
            return {"requests": 0.0, "p50_ms": 0.0, "p99_ms": 0.0}
        return {
            "requests": float(len(flat)),
            "p50_ms": (percentile(flat, 0.5) or 0.0) * 1000,
            "p99_ms": (percentile(flat, 0.99) or 0.0) * 1000,
        }


def sensor_appeals(url: str, routing: Any, n: int = 20) -> list[int]:
    """``n`` air-quality appeals at :data:`STATION` over a day of its readings (written
    as the detect worker writes them); their ids."""
    from appeals import AppealWriter
    from citypulse import Incident, IncidentStatus, IncidentType
    from citypulse.db import connect, load_devices

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    writer = AppealWriter(routing=routing, connectors=("webhook",))
    ids = []
    with connect(url) as conn:
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (now - timedelta(days=1), now))
        conn.execute(_READINGS, (now - timedelta(days=1), now))
        device = load_devices(conn)[STATION]
        for k in range(n):
            started = now - timedelta(hours=2 + k)
            last = started + timedelta(minutes=40)
            cur = conn.cursor(row_factory=scalar_row)
            incident_id = cur.execute(_INCIDENT, (STATION, started, last)).fetchone()
            incident = Incident(
                id=int(incident_id or 0),
                type=IncidentType.AIR_QUALITY_EXCEEDANCE,
                device_id=STATION,
                severity=3,
                status=IncidentStatus.OPEN,
                started_at=started,
                last_alarm_at=last,
                detector="bench",
                score=0.95,
                threshold=0.5,
                value=80.0,
                limit_value=35.0,
                unit="µg/m³",
                evidence={"metric": "pm25", "pollutant": "pm25"},
            )
            ids.append(writer.open(conn, incident, device))
            # one open incident per device and type: close it, as the detector would
            conn.execute(_RESOLVE, (incident_id,))
        conn.execute("ANALYZE")
        conn.commit()
    return ids


def sign_in(base: str, key: str) -> dict[str, str]:
    """A session cookie header for ``key`` (the sign-in form's CSRF token first)."""
    import re

    import httpx

    with httpx.Client(base_url=base, timeout=10.0) as c:
        form = c.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if token is None:
            raise RuntimeError("no CSRF token on the console's sign-in form")
        r = c.post("/console/login", data={"csrf": token.group(1), "key": key})
        if r.status_code != 303:
            raise RuntimeError(f"console sign-in refused: {r.status_code}")
        return {"Cookie": f"cp_session={c.cookies['cp_session']}"}


def measure(
    timed: Timed,
    base: str,
    load: Callable[[Callable[[Any, int], int]], dict[str, float]],
    headers: dict[str, str],
    appeals: list[int],
) -> dict[str, dict[str, float]]:
    """Each page under ``load(clients…)``; the server's times and the clients' non-2xx."""
    import httpx

    page = httpx.get(f"{base}/console/appeals/{appeals[0]}", headers=headers, timeout=10.0)
    if page.status_code != 200 or '<figure class="chart">' not in page.text:
        raise RuntimeError(f"appeal {appeals[0]}'s page has no chart ({page.status_code})")
    sectors = ("Дороги", "Экология", "ТКО", "Транспорт")
    calls: dict[str, Callable[[Any, int], int]] = {
        PAGES[0]: lambda c, i: c.get("/console/", headers=headers).status_code,
        PAGES[1]: lambda c, i: (
            c.get(
                "/console/",
                params={
                    "sector": sectors[i % 4],
                    "source": "citizen",
                    "overdue": "true",
                    "page": 1 + i % 3,
                },
                headers=headers,
            ).status_code
        ),
        PAGES[2]: lambda c, i: (
            c.get(f"/console/appeals/{appeals[i % len(appeals)]}", headers=headers).status_code
        ),
        PAGES[3]: lambda c, i: c.get("/console/map", headers=headers).status_code,
    }
    out = {}
    for name, call in calls.items():
        timed.phase = name
        errors = load(call)["errors"]
        out[name] = timed.figures(name) | {"errors": errors}
    return out
