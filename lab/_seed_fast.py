"""A city's raw readings at full rate, fast: a hundred million rows in minutes.

:func:`seed_window` generates the last hours of ``city`` at the city's own report
intervals (the large city: a controller every second, a camera lane every 2 s) with
:mod:`lab._seed`'s statements, in chunks of one kind and one hour spread over parallel
connections, with the readings tables' indexes dropped and their rollup triggers
disabled during the load; then it builds the indexes again and the rollups of those
hours from the raw readings.  Rollups for the hours before that window, back to
``start``, are the window's own rollups copied back in time a window-length at a time:
what a dashboard reads there has the rows and sizes of the city at that rate, but
repeats the window's values (raw readings older than the window would not fit a
benchmark's disk: a day of the large city is 450 million rows).  Plain schema mode only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from citypulse import Device
from citypulse.db import connect, schema_mode, upsert_devices
from lab._seed import (
    BULK_STATEMENTS,
    Progress,
    _quiet,
    bulk_parameters,
    finish_bulk,
    write_operations,
)
from simulator import City, Intervals

HOUR = timedelta(hours=1)
KINDS = ("traffic_light", "camera", "parking", "ecology")
#: The :data:`lab._seed.BULK_STATEMENTS` name of each kind and its interval's attribute.
_BULK_NAME = {"camera": "cameras", "traffic_light": "lights", "parking": "parking"}
_INTERVAL = {
    "cameras": "camera_s",
    "lights": "heartbeat_s",
    "parking": "parking_s",
    "ecology": "ecology_s",
}
_INDEXES = """
SELECT t.relname AS table_name, ic.relname AS index_name,
       pg_get_indexdef(i.indexrelid) AS index_def,
       c.conname AS constraint_name, pg_get_constraintdef(c.oid) AS constraint_def
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = t.oid
WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
ORDER BY t.relname, ic.relname
"""


class SeedModeError(ValueError):
    """The database is not in plain schema mode (TimescaleDB's aggregates refresh
    themselves)."""


@dataclass(frozen=True, slots=True)
class WindowReport:
    devices: int
    readings: int  # raw rows generated
    readings_by_kind: dict[str, int]
    raw_from: datetime
    start: datetime
    end: datetime
    load_s: float
    index_s: float
    rollup_s: float
    seconds: float
    incidents: int
    appeals: int


@dataclass(frozen=True, slots=True)
class _Index:
    table: str
    name: str
    index_def: str
    constraint: str | None
    constraint_def: str | None


def steps(intervals: Intervals) -> dict[str, timedelta]:
    """Seconds between generated readings of each :data:`BULK_STATEMENTS` kind."""
    return {k: timedelta(seconds=getattr(intervals, a)) for k, a in _INTERVAL.items()}


def expected_rows(
    city: City, devices: Sequence[Device], intervals: Intervals, span: timedelta
) -> dict[str, int]:
    """How many rows each kind's statement writes over ``span`` (whole steps)."""
    params = bulk_parameters(city, devices)
    out = {}
    for name, step in steps(intervals).items():
        count = int(span / step)
        per_step = sum(params[name]["lanes"]) if name == "cameras" else len(params[name]["ids"])
        out[name] = count * per_step
    return out


class _Meter:
    """Rows done against rows expected, printed with the rate and the time left."""

    def __init__(self, total: int, progress: Progress) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.by_kind: dict[str, int] = {}
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()

    def add(self, kind: str, rows: int, what: str) -> None:
        with self._lock:
            self.done += rows
            self.by_kind[kind] = self.by_kind.get(kind, 0) + rows
            elapsed = time.perf_counter() - self.t0
            rate = self.done / elapsed if elapsed > 0 else 0.0
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            self.progress(
                f"  {what}: {self.done:,} / {self.total:,} rows "
                f"({100.0 * self.done / max(1, self.total):.0f} %), {rate:,.0f} rows/s, "
                f"ETA {left / 60:.1f} min"
            )


def _parallel(tasks: Sequence[Callable[[], None]], workers: int) -> None:
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in [pool.submit(t) for t in tasks]:
            future.result()


def _session(url: str) -> psycopg.Connection[Any]:
    conn = connect(url, autocommit=True)
    conn.execute("SET synchronous_commit = off")
    return conn


def _indexes(conn: psycopg.Connection[Any], tables: Sequence[str]) -> list[_Index]:
    rows = conn.cursor(row_factory=dict_row).execute(_INDEXES, (list(tables),)).fetchall()
    return [
        _Index(
            r["table_name"],
            r["index_name"],
            r["index_def"],
            r["constraint_name"],
            r["constraint_def"],
        )
        for r in rows
    ]


def _drop(conn: psycopg.Connection[Any], index: _Index) -> None:
    if index.constraint:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(index.table), sql.Identifier(index.constraint)
            )
        )
    else:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index.name)))


def _create(url: str, index: _Index, progress: Progress) -> None:
    t0 = time.perf_counter()
    with _session(url) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 0")  # our own threads instead
        if index.constraint and index.constraint_def:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ")
                .format(sql.Identifier(index.table), sql.Identifier(index.constraint))
                .as_string(conn)
                .encode()
                + index.constraint_def.encode()
            )
        else:
            # As the catalogue has it, but for the partitions too (a partitioned table's
            # index is defined ON ONLY the parent there).
            conn.execute(index.index_def.replace(" ON ONLY ", " ON ", 1).encode())
    progress(f"  index {index.name} built ({time.perf_counter() - t0:.0f} s)")


def _triggers(conn: psycopg.Connection[Any], tables: Sequence[str], enable: bool) -> None:
    verb = sql.SQL("ENABLE" if enable else "DISABLE")
    for t in tables:
        conn.execute(sql.SQL("ALTER TABLE {} {} TRIGGER USER").format(sql.Identifier(t), verb))


def _hours(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out, h = [], start
    while h < end:
        out.append((h, min(h + HOUR, end)))
        h += HOUR
    return out


def _rollup(url: str, kind: str, hour: datetime, until: datetime) -> None:
    fn = sql.Identifier(f"citypulse_rollup_{kind}")
    minutes = [
        hour + timedelta(minutes=m) for m in range(int((until - hour) / timedelta(minutes=1)))
    ]
    with _session(url) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT * FROM {}(interval '1 minute', %s::timestamptz[])"
            ).format(sql.Identifier(f"{kind}_1m"), fn),
            (minutes,),
        )
        conn.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM {}(%s::timestamptz[])").format(
                sql.Identifier(f"{kind}_1h"), sql.Identifier(f"citypulse_rollup_{kind}_hours")
            ),
            ([hour],),
        )


def _copy_back(
    url: str, table: str, *, source: tuple[datetime, datetime], shift: timedelta, floor: datetime
) -> int:
    with _session(url) as conn:
        columns = [
            str(r[0])
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                (table,),
            )
        ]
        select = sql.SQL(", ").join(
            sql.SQL("bucket - %(shift)s") if c == "bucket" else sql.Identifier(c) for c in columns
        )
        return conn.execute(
            sql.SQL(
                "INSERT INTO {t} ({cols}) SELECT {select} FROM {t} WHERE bucket >= %(from)s "
                "AND bucket < %(until)s AND bucket - %(shift)s >= %(floor)s"
            ).format(
                t=sql.Identifier(table),
                cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
                select=select,
            ),
            {"from": source[0], "until": source[1], "shift": shift, "floor": floor},
        ).rowcount


def seed_window(
    database_url: str,
    city: City,
    *,
    start: datetime,
    end: datetime,
    raw_from: datetime,
    intervals: Intervals | None = None,
    seed: int = 1,
    workers: int = 2,
    progress: Progress = _quiet,
) -> WindowReport:
    """Raw readings of ``city`` over ``[raw_from, end)`` at ``intervals`` (the city's own
    by default), rollups over ``[start, end)``, operations data, incidents and appeals,
    into a migrated, empty database in plain mode.  ``raw_from`` must be a whole hour."""
    if raw_from != raw_from.replace(minute=0, second=0, microsecond=0):
        raise ValueError("raw_from must be a whole hour")
    if not start <= raw_from < end:
        raise ValueError("start <= raw_from < end is required")
    t0 = time.perf_counter()
    iv = intervals or city.intervals
    devices = city.devices(iv)
    per_kind = bulk_parameters(city, devices)
    step = steps(iv)
    tables = [f"{k}_readings" for k in KINDS]
    with connect(database_url, autocommit=True) as conn:
        if schema_mode(conn) != "plain":
            raise SeedModeError("seed_window fills plain-mode databases only")
        with conn.transaction():
            upsert_devices(conn, devices)
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (start, end))
        indexes = _indexes(conn, tables)
        for index in indexes:
            _drop(conn, index)
        _triggers(conn, tables, enable=False)
    progress(
        f"  {len(indexes)} indexes dropped and rollup triggers disabled on {len(tables)} "
        "readings tables for the load"
    )
    totals = dict.fromkeys(step, 0)
    hours = _hours(raw_from, end)
    for frm, until in hours:
        for name, count in expected_rows(city, devices, iv, until - frm).items():
            totals[name] += count
    meter = _Meter(sum(totals.values()), progress)

    def load(name: str, statement: str, frm: datetime, until: datetime) -> Callable[[], None]:
        def task() -> None:
            params = {"from": frm, "until": until, "step": step[name], **per_kind[name]}
            with _session(database_url) as c:
                rows = c.execute(statement.encode(), params).rowcount
            meter.add(name, rows, f"{name} {frm:%H:%M}-{until:%H:%M}")

        return task

    try:
        _parallel([load(n, s, f, u) for f, u in hours for n, s in BULK_STATEMENTS], workers)
    finally:
        load_s = time.perf_counter() - t0
        progress(f"  loaded {meter.done:,} readings in {load_s:.0f} s; building indexes ...")
        t1 = time.perf_counter()
        big_first = sorted(indexes, key=lambda i: (i.table != "camera_readings", i.table))
        _parallel([partial(_create, database_url, i, progress) for i in big_first], workers)
        with connect(database_url, autocommit=True) as conn:
            _triggers(conn, tables, enable=True)
        index_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    incidents, appeals = finish_window(
        database_url, city, devices, start=start, end=end, raw_from=raw_from, seed=seed,
        readings=meter.done, workers=workers, progress=progress,
    )  # fmt: skip
    rollup_s = time.perf_counter() - t2
    by_kind = {k: meter.by_kind.get(_BULK_NAME.get(k, k), 0) for k in KINDS}
    return WindowReport(
        len(devices), meter.done, by_kind, raw_from, start, end,
        load_s, index_s, rollup_s, time.perf_counter() - t0, incidents, appeals,
    )  # fmt: skip


def finish_window(
    database_url: str,
    city: City,
    devices: Sequence[Device],
    *,
    start: datetime,
    end: datetime,
    raw_from: datetime,
    seed: int,
    readings: int,
    workers: int = 2,
    progress: Progress = _quiet,
) -> tuple[int, int]:
    """After the raw window is loaded and indexed: its rollups, copied back to ``start``;
    operations data, incidents and appeals; vacuum.  Returns incidents and appeals."""
    t0 = time.perf_counter()
    _parallel(
        [partial(_rollup, database_url, k, f, u) for f, u in _hours(raw_from, end) for k in KINDS],
        workers,
    )
    whole = int((end - raw_from) / HOUR)
    copied = 0
    if whole >= 1:
        width = whole * HOUR
        floor = start.replace(minute=0, second=0, microsecond=0)
        shift = width
        while raw_from - shift + width > floor:
            for k in KINDS:
                for table in (f"{k}_1m", f"{k}_1h"):
                    copied += _copy_back(
                        database_url, table, source=(raw_from, raw_from + width),
                        shift=shift, floor=floor,
                    )  # fmt: skip
            shift += width
    progress(
        f"  rollups of the raw hours built and {copied:,} rollup rows copied back to "
        f"{start:%Y-%m-%d %H:%M} ({time.perf_counter() - t0:.0f} s); vacuuming ..."
    )
    per_10s = max(1, round(readings / max(1.0, (end - raw_from).total_seconds()) * 5))
    with connect(database_url) as conn:
        write_operations(conn, devices, start=start, end=end, per_10s=per_10s)
        incidents, appeals = finish_bulk(conn, city, devices, start=start, end=end, seed=seed)
    tables = [f"{k}_{w}" for k in KINDS for w in ("readings", "1m", "1h")]
    _parallel([partial(_vacuum, database_url, t) for t in tables], workers)
    with connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")  # the rest, as autovacuum would have by now
    return incidents, appeals


def _vacuum(url: str, table: str) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))


def disk_bytes(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Bytes on disk: raw readings' tables and their indexes (every partition), rollups'
    tables and indexes."""
    raw = conn.execute(
        "SELECT coalesce(sum(pg_table_size(i.inhrelid)), 0), "
        "coalesce(sum(pg_indexes_size(i.inhrelid)), 0) FROM pg_inherits i "
        "WHERE i.inhparent = ANY(%s::regclass[])",
        ([f"{k}_readings" for k in KINDS],),
    ).fetchone()
    rollups = conn.execute(
        "SELECT sum(pg_table_size(t)), sum(pg_indexes_size(t)) FROM unnest(%s::regclass[]) t",
        ([f"{k}_{w}" for k in KINDS for w in ("1m", "1h")],),
    ).fetchone()
    assert raw is not None  # aggregates always return a row
    assert rollups is not None
    return {
        "raw_table": int(raw[0]),
        "raw_indexes": int(raw[1]),
        "rollup_tables": int(rollups[0] or 0),
        "rollup_indexes": int(rollups[1] or 0),
    }
