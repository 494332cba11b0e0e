"""A year of a region's appeals written straight in with COPY, for the weekly report's
benchmark: a million appeals in well under a minute, never posted one by one.

Generated with numpy from the routing file, so sectors, services, agencies, priorities
and deadlines are the region's own:

- sources: citizens 62 %, sensors 30 %, other systems 8 % (sensor and system appeals get
  an incident each, on one of the preset city's devices or from a configured system);
- time: every day of the ``days`` before ``end``, weekdays busier than weekends (Saturday
  0.7, Sunday 0.6) and a daily profile peaking in the morning and the evening, in the
  region's zone; services weighted unevenly (a fixed draw per seed), districts 40/35/25 %;
- statuses as the time since the appeal allows: accepted after a log-normal delay (median
  20 min), resolved after one scaled by the deadline (median 60 % of it, so some are
  late), 30 % of the resolved then closed, 2 % rejected; open ones at ``end`` stay new,
  accepted or in progress; ``appeal_events`` holds each step (derived from the appeals'
  times inside the server, four rows an appeal that need not pass through Python);
- 5 % of citizens' appeals confirm a sensor appeal of the same sector and place (linked
  ``confirms`` and grouped as correlation does), three in four of them after the sensor.

Reference checks and triggers are skipped while loading where the role may, and empty
tables get their plain indexes built once at the end (see :func:`seed_appeals`).  Ids
are given in time order (COPY writes identity columns as sent) and the sequences are
moved past them afterwards.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from appeals import Routing, load_routing
from citypulse.db import scalar, upsert_devices
from simulator import preset_city

Progress = Callable[[str], None]
Arr = npt.NDArray[Any]
SOURCES = ("citizen", "sensor", "system")
SOURCE_P = (0.62, 0.30, 0.08)
WEEKDAY_W = (1.0, 1.0, 1.0, 1.0, 0.95, 0.7, 0.6)
HOUR_W = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 1.8, 1.7, 1.5,
    1.4, 1.4, 1.4, 1.4, 1.5, 1.7, 1.8, 1.5, 1.1, 0.8, 0.5, 0.3,
)  # fmt: skip
DISTRICT_P = (0.40, 0.35, 0.25)
CONFIRM_SHARE = 0.05
NULL = "\\N"


def _quiet(message: str) -> None:
    """Progress sink that drops everything."""


@dataclass(frozen=True, slots=True)
class AppealSeed:
    appeals: int
    events: int
    incidents: int
    links: int
    seconds: float
    load_seconds: float  # of which generating and copying the rows (then indexes, ANALYZE)


@dataclass(frozen=True, slots=True)
class _Routes:
    """The places an appeal can be routed to, as parallel arrays."""

    sector: Arr
    service: Arr
    agency: Arr
    title: Arr
    priority: Arr
    deadline_s: Arr
    itype: Arr  # incident type, or '' for citizens' services


def _routes(routing: Routing) -> dict[str, _Routes]:
    names = {s.service_code: s.service_name for s in routing.services}

    def pack(rows: Sequence[tuple[str, str, str, str, int, float, str]]) -> _Routes:
        cols = list(zip(*rows, strict=True))
        return _Routes(*(np.array(c) for c in cols))

    citizen = [
        (s.group, s.service_code, s.agency, s.service_name, s.priority,
         s.deadline.total_seconds(), "")
        for s in routing.services
    ]  # fmt: skip
    sensor = [
        (r.sector, r.service_code, r.agency, names.get(r.service_code, r.service_code),
         r.priority, r.deadline.total_seconds(), str(t))
        for t, r in routing.routes.items()
    ]  # fmt: skip
    system = [
        (r.sector, r.service_code, r.agency, names.get(r.service_code, r.service_code),
         r.priority, r.deadline.total_seconds(), str(t))
        for t, r in routing.event_routes.items()
    ] or sensor  # fmt: skip
    return {"citizen": pack(citizen), "sensor": pack(sensor), "system": pack(system)}


def _stamp(epoch: Arr, mask: Arr | None = None, *, unit: str = "s") -> Arr:
    """Epoch seconds (or ``unit``s) as COPY text, ``\\N`` where ``mask`` is false; without
    an offset (appending one costs more than the formatting), read in the loading
    session's time zone, UTC."""
    stamps: Any = epoch.astype(f"datetime64[{unit}]")
    text = np.datetime_as_string(stamps, unit=cast(Any, unit))
    return text if mask is None else np.where(mask, text, NULL)


def _lines(cols: Sequence[Arr], start: int, stop: int) -> bytes:
    """Rows [start, stop) of text columns as COPY text."""
    rows = zip(*(c[start:stop].tolist() for c in cols), strict=True)
    return ("\n".join(map("\t".join, rows)) + "\n").encode()


# Each step an appeal took, at the times stored on it (in progress a minute after it was
# accepted, rejected two): what the state machine writes one transition at a time.
_HISTORY = """
INSERT INTO appeal_events (appeal_id, time, status)
SELECT a.id, s.time, s.status
FROM appeals a
CROSS JOIN LATERAL (VALUES
    (a.requested_at, 'new'),
    (a.accepted_at, 'accepted'),
    (CASE WHEN a.status IN ('in_progress', 'resolved', 'closed')
          THEN a.accepted_at + interval '1 minute' END, 'in_progress'),
    (a.resolved_at, 'resolved'),
    (a.closed_at, 'closed'),
    (CASE WHEN a.status = 'rejected' THEN a.accepted_at + interval '2 minutes' END, 'rejected')
) AS s (time, status)
WHERE a.id > %s AND s.time IS NOT NULL
"""

# Plain indexes (not those behind a constraint) of the tables the seeder fills.
_INDEXES = """
SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = ANY(%s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


@contextlib.contextmanager
def _indexes_rebuilt(conn: psycopg.Connection[Any], tables: Sequence[str]) -> Iterator[None]:
    """Into empty tables, load without the plain indexes and build them again at the end
    (from their own definitions, in the same transaction): one sorted build is several
    times faster than keeping a dozen indexes up to date row by row."""
    probe = sql.SQL("SELECT NOT EXISTS (SELECT FROM {})")
    empty = [
        t
        for t in tables
        if (conn.execute(probe.format(sql.Identifier(t))).fetchone() or [False])[0]
    ]
    found = conn.execute(_INDEXES, (empty,)).fetchall() if empty else []
    for schema, name, _ in found:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
    yield
    if found:
        # Room to sort in memory: the builds take longer than the COPY otherwise.
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, _, definition in found:
        conn.execute(definition)


def _copy(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    cols: Sequence[Arr],
    *,
    chunk: int,
    progress: Callable[[int], None],
) -> None:
    n = len(cols[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        for start in range(0, n, chunk):
            copy.write(_lines(cols, start, min(n, start + chunk)))
            progress(min(n, start + chunk))


def seed_appeals(
    conn: psycopg.Connection[Any],
    n: int,
    *,
    end: datetime,
    days: int = 365,
    routing: Routing | None = None,
    seed: int = 7,
    progress: Progress = _quiet,
    chunk: int = 50_000,
) -> AppealSeed:
    """Write ``n`` appeals spread over the ``days`` before ``end`` (and their incidents,
    history and links) into the migrated database on ``conn``; commits."""
    t0 = time.perf_counter()
    routing = routing or load_routing()
    rng = np.random.default_rng(seed)
    devices = [d.id for d in preset_city().devices()]
    upsert_devices(conn, preset_city().devices())
    base = int(scalar(conn, "SELECT coalesce(max(id), 0) FROM appeals") or 0)
    inc_base = int(scalar(conn, "SELECT coalesce(max(id), 0) FROM incidents") or 0)

    # When: a day (weekday-weighted), an hour (daily profile) and a second, in the zone.
    end_s = int(end.timestamp())
    offset = int((end.astimezone(routing.zone).utcoffset() or timedelta(0)).total_seconds())
    local_end_day = (end_s + offset) // 86400
    day_numbers = np.arange(local_end_day - days, local_end_day)
    weekday = (day_numbers + 3) % 7  # 1970-01-01 was a Thursday
    day_w = np.array(WEEKDAY_W)[weekday]
    days_drawn = rng.choice(day_numbers, size=n, p=day_w / day_w.sum())
    hours = rng.choice(24, size=n, p=np.array(HOUR_W) / sum(HOUR_W))
    requested: Arr = days_drawn * 86400 + hours * 3600 + rng.integers(0, 3600, n) - offset
    requested = np.minimum(requested, end_s - 1)
    requested.sort()

    source_ix: Arr = rng.choice(3, size=n, p=SOURCE_P)
    source: Arr = np.array(SOURCES)[source_ix]
    routes = _routes(routing)
    sector: Arr = np.empty(n, dtype=object)
    service: Arr = np.empty(n, dtype=object)
    agency: Arr = np.empty(n, dtype=object)
    title: Arr = np.empty(n, dtype=object)
    priority: Arr = np.zeros(n, dtype=np.int64)
    deadline: Arr = np.zeros(n, dtype=np.int64)
    itype: Arr = np.empty(n, dtype=object)
    for k, name in enumerate(SOURCES):
        mask = source_ix == k
        r = routes[name]
        weights = rng.gamma(1.0, size=len(r.sector))
        pick = rng.choice(len(r.sector), size=int(mask.sum()), p=weights / weights.sum())
        sector[mask], service[mask], agency[mask] = r.sector[pick], r.service[pick], r.agency[pick]
        title[mask], priority[mask] = r.title[pick], r.priority[pick]
        deadline[mask], itype[mask] = r.deadline_s[pick], r.itype[pick]
    district_names = np.array(list(routing.districts.values()) or [""])
    p = np.array(DISTRICT_P[: len(district_names)] or (1.0,))
    district: Arr = district_names[rng.choice(len(district_names), size=n, p=p / p.sum())]
    lat: Arr = np.round(54.51 + rng.normal(0, 0.02, n), 6)
    lon: Arr = np.round(36.26 + rng.normal(0, 0.035, n), 6)

    # Citizens confirming a sensor appeal: same service, district and place, a lead apart.
    sensors = np.flatnonzero(source_ix == 1)
    citizens = np.flatnonzero(source_ix == 0)
    m = min(len(sensors), int(len(citizens) * CONFIRM_SHARE))
    pair_s = rng.choice(sensors, size=m, replace=False)
    pair_c = rng.choice(citizens, size=m, replace=False)
    lead = rng.lognormal(np.log(40 * 60), 0.8, m).astype(np.int64)
    lead = np.where(rng.random(m) < 0.75, lead, -lead)
    requested[pair_c] = np.clip(requested[pair_s] + lead, requested[0], end_s - 1)
    for col in (sector, service, agency, title, priority, deadline, district, lat, lon):
        col[pair_c] = col[pair_s]  # a citizen's report of the sensor's service, same place
    order = np.argsort(requested, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    (requested, source_ix, source, sector, service, agency, title, priority, deadline, itype,
     district, lat, lon) = (a[order] for a in (
        requested, source_ix, source, sector, service, agency, title, priority, deadline,
        itype, district, lat, lon))  # fmt: skip
    pair_s, pair_c = rank[pair_s], rank[pair_c]
    ids = base + 1 + np.arange(n)

    # Statuses as far as time allows by `end`.
    accept = rng.lognormal(np.log(20 * 60), 1.0, n).astype(np.int64)
    resolve = (deadline * rng.lognormal(np.log(0.6), 0.7, n)).astype(np.int64) + 60
    accepted_at = requested + accept
    resolved_at = accepted_at + resolve
    closed_at = resolved_at + rng.integers(3600, 3 * 86400, n)
    roll = rng.random(n)
    rejected = roll < 0.02
    is_accepted = accepted_at <= end_s
    is_done = (resolved_at <= end_s) & ~rejected
    is_closed = is_done & (roll > 0.70) & (closed_at <= end_s)
    progressing = is_accepted & ~is_done & ~rejected & (roll < 0.5)
    status = np.where(is_accepted, "accepted", "new").astype(object)
    status[progressing] = "in_progress"
    status[is_accepted & rejected] = "rejected"
    status[is_done] = "resolved"
    status[is_closed] = "closed"
    updated = np.select(
        [is_closed, is_done, is_accepted], [closed_at, resolved_at, accepted_at], requested
    )

    # Incidents for sensor and system appeals.
    has_inc = source_ix > 0
    inc_rows = np.flatnonzero(has_inc)
    inc_ids = inc_base + 1 + np.arange(len(inc_rows))
    incident_id = np.full(n, NULL, dtype=object)
    incident_id[inc_rows] = inc_ids.astype(str)
    systems = sorted(routing.events.sources) or ["bezopasny-gorod"]
    inc_sensor = source_ix[inc_rows] == 1
    device = np.array(devices)[rng.integers(0, len(devices), len(inc_rows))]
    system = np.array(systems)[rng.integers(0, len(systems), len(inc_rows))]
    inc_end = np.where(is_done[inc_rows], resolved_at[inc_rows], requested[inc_rows] + 3600)
    inc_end = np.minimum(inc_end, end_s)
    # Microseconds from the row keep (device, type, started_at) unique (incidents_one_start).
    started = (requested[inc_rows] - 120) * 1_000_000 + np.arange(len(inc_rows)) % 1_000_000
    group_id = np.full(n, NULL, dtype=object)
    later = np.maximum(pair_s, pair_c)
    group_id[later] = ids[np.minimum(pair_s, pair_c)].astype(str)

    # The rows are consistent by construction (ids, references and groups are drawn
    # together), so where the role may (a superuser, as on a benchmark's own server) the
    # per-row reference checks and triggers are skipped while loading, as pg_restore
    # --disable-triggers does: they cost more than the COPY itself.
    conn.execute("SET LOCAL TimeZone = 'UTC'")  # the stamps' zone, see _stamp
    conn.execute("SAVEPOINT replica")
    try:
        conn.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        conn.execute("ROLLBACK TO SAVEPOINT replica")
    say_every = max(chunk, n // 10)
    done_rows = [0]

    def tick(total: int, what: str) -> Callable[[int], None]:
        def report(k: int) -> None:
            if k == total or k // say_every != (k - chunk) // say_every:
                rate = (done_rows[0] + k) / max(1e-9, time.perf_counter() - t0)
                progress(f"seeding {what}: {k:,}/{total:,} ({rate:,.0f} rows/s)")

        return report

    tables = ("incidents", "appeals", "appeal_events", "appeal_links")
    with _indexes_rebuilt(conn, tables):
        _copy(
            conn,
            "incidents",
            ("id", "type", "device_id", "source_system", "severity", "status", "started_at",
             "last_alarm_at", "resolved_at", "opened_at", "updated_at", "detector", "score",
             "threshold", "lat", "lon"),
            [inc_ids.astype(str), itype[inc_rows].astype(str),
             np.where(inc_sensor, device, NULL), np.where(inc_sensor, NULL, system),
             np.full(len(inc_rows), "2"), np.full(len(inc_rows), "resolved"),
             _stamp(started, unit="us"), _stamp(started, unit="us"), _stamp(inc_end),
             _stamp(requested[inc_rows]), _stamp(inc_end),
             np.full(len(inc_rows), "seed"), np.full(len(inc_rows), "0.9"),
             np.full(len(inc_rows), "0.5"), lat[inc_rows].astype(str), lon[inc_rows].astype(str)],
            chunk=chunk,
            progress=tick(len(inc_rows), "incidents"),
        )  # fmt: skip
        done_rows[0] += len(inc_rows)
        _copy(
            conn,
            "appeals",
            ("id", "source", "sector", "service_code", "title", "lat", "lon", "district",
             "priority", "status", "agency", "requested_at", "expected_at", "accepted_at",
             "resolved_at", "closed_at", "updated_at", "incident_id", "group_id",
             "confirmed_by_sensors"),
            [ids.astype(str), source, sector, service, title, lat.astype(str), lon.astype(str),
             district, priority.astype(str), status, agency, _stamp(requested),
             _stamp(requested + deadline), _stamp(accepted_at, is_accepted),
             _stamp(resolved_at, is_done), _stamp(closed_at, is_closed), _stamp(updated),
             incident_id, group_id, np.where(np.isin(np.arange(n), pair_c), "t", "f")],
            chunk=chunk,
            progress=tick(n, "appeals"),
        )  # fmt: skip
        done_rows[0] += n

        # History: each step the appeals took, derived from their own times inside the
        # server (no rows through Python: four times as many as appeals).
        progress("seeding appeal history ...")
        events = conn.execute(_HISTORY, (base,)).rowcount
        citizen_ids, sensor_ids = ids[pair_c], ids[pair_s]
        _copy(
            conn,
            "appeal_links",
            ("appeal_id", "linked_id", "reason", "created_at"),
            [citizen_ids.astype(str), sensor_ids.astype(str), np.full(m, "confirms"),
             _stamp(np.maximum(requested[pair_c], requested[pair_s]))],
            chunk=chunk,
            progress=lambda k: None,
        )  # fmt: skip
        loaded = time.perf_counter() - t0
        progress("seeding: building indexes")

    for table in ("incidents", "appeals"):
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {}))"
            ).format(sql.Identifier(table)),
            (table,),
        )
    conn.commit()
    for table in ("incidents", "appeals", "appeal_events", "appeal_links"):
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    conn.commit()
    return AppealSeed(
        appeals=n,
        events=events,
        incidents=len(inc_rows),
        links=m,
        seconds=time.perf_counter() - t0,
        load_seconds=loaded,
    )
