"""How long the ratings take over a year of a region's appeals (1,000,000, written inside
PostgreSQL with generate_series): prints figures, asserts none of them (run with
``-m benchmark -s``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from appeals.analysis import ratings, sensors_first
from citypulse.db import connect, upsert_devices
from simulator import preset_city

YEAR = datetime(2026, 1, 1, tzinfo=UTC)
APPEALS = 1_000_000

# A third from sensors (an incident each on one of 5,000 devices, the device's service and
# place), the rest citizens around the city's centre (±10 km); 12 agencies, 10 sector
# blocks, 24 services; deadlines of 4 h to 3 days; most resolved within 0.5-40 h, a tenth
# still open, some rejected; up to four history entries each and one reopening in fifty;
# every tenth sensor appeal confirmed by the next citizen's report (grouped and linked).
_SEED = """
INSERT INTO devices (id, kind, lat, lon)
SELECT 'bench-' || g, 'camera', 54.51 + ((g * 7919) %% 20000 - 10000) / 111320.0,
       36.26 + ((g * 104729) %% 20000 - 10000) / 64600.0
FROM generate_series(1, 5000) AS g;

CREATE TEMP TABLE seed AS
SELECT g AS n,
       %(year)s::timestamptz + (g::double precision / %(count)s) * interval '365 days'
           AS requested_at,
       (g %% 3 = 0) AS sensor,
       hashtext(g::text) AS h
FROM generate_series(1, %(count)s) AS g;

INSERT INTO incidents (type, device_id, severity, status, started_at, last_alarm_at,
                       resolved_at, detector, score, threshold)
SELECT 'stuck_phase', 'bench-' || (1 + abs(s.h) %% 5000), 2, 'closed',
       s.requested_at, s.requested_at, s.requested_at, 'bench', 0.9, 0.5
FROM seed s
WHERE s.sensor
ORDER BY s.n;

CREATE TEMP TABLE inc AS
SELECT i.id, row_number() OVER (ORDER BY i.id) AS k, d.lat, d.lon,
       'device-' || (abs(hashtext(d.id)) %% 6) AS service
FROM incidents i JOIN devices d ON d.id = i.device_id;

INSERT INTO appeals (source, sector, service_code, title, agency, lat, lon, status,
                     requested_at, expected_at, accepted_at, resolved_at, closed_at,
                     incident_id)
SELECT CASE WHEN s.sensor THEN 'sensor' ELSE 'citizen' END,
       'sector-' || (abs(s.h) %% 10),
       coalesce(i.service, 'service-' || (abs(s.h / 7) %% 24)), 'bench',
       'agency-' || (abs(s.h / 11) %% 12),
       coalesce(i.lat, 54.51 + ((abs(s.h / 13) %% 20000) - 10000) / 111320.0),
       coalesce(i.lon, 36.26 + ((abs(s.h / 17) %% 20000) - 10000) / 64600.0),
       CASE WHEN abs(s.h) %% 10 = 0 THEN 'in_progress'
            WHEN abs(s.h) %% 50 = 1 THEN 'rejected'
            WHEN abs(s.h) %% 2 = 0 THEN 'closed' ELSE 'resolved' END,
       s.requested_at,
       s.requested_at + (4 + abs(s.h / 19) %% 68) * interval '1 hour',
       s.requested_at + (5 + abs(s.h / 23) %% 180) * interval '1 minute',
       CASE WHEN abs(s.h) %% 10 <> 0 AND abs(s.h) %% 50 <> 1
            THEN s.requested_at + (30 + abs(s.h / 29) %% 2400) * interval '1 minute' END,
       CASE WHEN abs(s.h) %% 50 = 1 THEN s.requested_at + interval '1 hour'
            WHEN abs(s.h) %% 10 <> 0 AND abs(s.h) %% 2 = 0
            THEN s.requested_at + (30 + abs(s.h / 29) %% 2400) * interval '1 minute' END,
       i.id
FROM seed s
LEFT JOIN inc i ON s.sensor AND i.k = s.n / 3;

INSERT INTO appeal_events (appeal_id, time, status)
SELECT a.id, e.time, e.status
FROM appeals a
CROSS JOIN LATERAL (VALUES (a.requested_at, 'new'), (a.accepted_at, 'accepted'),
                           (coalesce(a.resolved_at, a.closed_at), a.status),
                           (CASE WHEN a.id %% 50 = 7 THEN a.resolved_at + interval '1 hour'
                            END, 'in_progress')) AS e (time, status)
WHERE e.time IS NOT NULL;

CREATE TEMP TABLE pair AS
SELECT s.id AS sensor, c.id AS citizen
FROM appeals s JOIN appeals c ON c.id = s.id + 1
WHERE s.source = 'sensor' AND s.id %% 10 = 0;
UPDATE appeals a SET group_id = p.sensor FROM pair p WHERE a.id = p.citizen;
INSERT INTO appeal_links (appeal_id, linked_id, reason)
SELECT citizen, sensor, 'confirms' FROM pair;
ANALYZE appeals;
ANALYZE appeal_events;
ANALYZE incidents;
"""


@pytest.mark.benchmark
@pytest.mark.timeout(1200)
def test_ratings_over_a_year_of_appeals(db_url: str) -> None:
    with connect(db_url) as conn:
        upsert_devices(conn, preset_city().devices())
        started = time.perf_counter()
        conn.execute(
            _SEED.replace("%(year)s", "'2026-01-01T00:00:00Z'")
            .replace("%(count)s", str(APPEALS))
            .replace("%%", "%")
        )
        conn.commit()
        print(f"\nseeded {APPEALS} appeals in {time.perf_counter() - started:.1f} s")
        now = YEAR + timedelta(days=366)
        for label, since, until in (
            ("a week", YEAR + timedelta(days=168), YEAR + timedelta(days=175)),
            ("a month", YEAR + timedelta(days=150), YEAR + timedelta(days=180)),
        ):
            for by in ("agency", "sector"):
                started = time.perf_counter()
                rows = ratings(conn, since, until, by=by, now=now)
                took = time.perf_counter() - started
                reopened = sum(r.reopened for r in rows)
                print(f"ratings {label} by {by}: {len(rows)} rows, {reopened} reopened, "
                      f"{took:.2f} s")  # fmt: skip
            started = time.perf_counter()
            first = sensors_first(conn, since, until)
            print(f"sensors_first {label}: {first.faults} faults, "
                  f"{time.perf_counter() - started:.2f} s")  # fmt: skip
