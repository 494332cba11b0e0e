"""Stores decoded messages: one transaction per batch, idempotent, then the caller acks.

Readings go by binary COPY straight into the readings table under a savepoint; when that
meets a duplicate (a redelivered message), they go by COPY into a per-connection
temporary staging table and ``INSERT … SELECT … ON CONFLICT DO NOTHING`` instead, so a
redelivery never duplicates a row.  Dead letters, status transitions, device registration
and last-seen times are written in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any, Final, NamedTuple

import psycopg
from psycopg import sql
from psycopg.abc import Query

from citypulse import CitypulseError, DeviceKind, DeviceStatus, Reading
from citypulse.db import READING_TABLES, connect, is_transient
from ingest._decode import Decoded, Rejection, TopicInfo
from ingest._errors import PermanentStoreError, TransientStoreError

log = logging.getLogger(__name__)

_PG_TYPES: Final = {
    "time": "timestamptz",
    "device_id": "text",
    "phase": "text",
    "controller_mode": "text",
    "lane_id": "int2",
    "intensity": "int4",
    "total_spot_number": "int4",
    "occupied_spot_number": "int4",
    "out_of_service_slot_number": "int4",
    "lamp_fault": "bool",
    "door_open": "bool",
    "congested": "bool",
    "time_from_receiver": "bool",
}  # everything else is real (float4)
_KIND_ORDER: Final = tuple(DeviceKind)  # fixed order: concurrent writers lock alike


@dataclass(frozen=True, slots=True)
class _Layout:
    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    copy_sql: sql.Composed
    direct_sql: sql.Composed
    insert_sql: sql.Composed
    stage_sql: sql.Composed


def text_array(values: Sequence[str]) -> str:
    """``values`` as one PostgreSQL array literal, every element quoted, for a
    ``%s::text[]`` (or ``::timestamptz[]``) parameter.  psycopg adapts a list element by
    element in Python, several µs each (ten times this), and every batch that moves
    devices' last_seen sends two such lists."""
    if not values:
        return "{}"
    raw = "".join(values)
    if '"' in raw or "\\" in raw:
        values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(values) + '"}'


def _layout(kind: DeviceKind, reading_type: type[Reading]) -> _Layout:
    columns = tuple(f.name for f in fields(reading_type))
    table = READING_TABLES[kind]
    stage = f"stage_{kind.value}"
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    return _Layout(
        table=table,
        columns=columns,
        types=tuple(_PG_TYPES.get(c, "float4") for c in columns),
        copy_sql=sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(stage), cols
        ),
        direct_sql=sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), cols
        ),
        insert_sql=sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
            sql.Identifier(table), cols, cols, sql.Identifier(stage)
        ),
        stage_sql=sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        ).format(sql.Identifier(stage), sql.Identifier(table)),
    )


def copy_rows(
    cur: psycopg.Cursor[Any],
    statement: Query,
    types: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
) -> None:
    """Binary COPY of ``rows`` (tuples in column order, typed ``types``) by ``statement``."""
    with cur.copy(statement) as copy:
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            write(row)


def _layouts() -> dict[DeviceKind, _Layout]:
    from citypulse import READING_TYPES

    return {k: _layout(k, READING_TYPES[k]) for k in _KIND_ORDER}


_DEAD_LETTER_COPY: Final = (
    "COPY dead_letters (received_at, topic, payload, reason, detail, device_id, worker) "
    "FROM STDIN (FORMAT BINARY)"
)
_DEAD_LETTER_TYPES: Final = ("timestamptz", "text", "bytea", "text", "text", "text", "text")
_KNOWN = "SELECT id, kind, district FROM devices WHERE id = ANY(%s)"
_REGISTER = """
INSERT INTO devices (id, kind, district, name, attributes)
SELECT u.id, u.kind, u.district, u.id, '{"registered_by": "ingest"}'::jsonb
FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(id, kind, district)
ORDER BY u.id
ON CONFLICT (id) DO NOTHING
"""
_LAST_SEEN = """
UPDATE devices AS d SET last_seen = u.t
FROM unnest(%s::text[], %s::timestamptz[]) AS u(id, t)
WHERE d.id = u.id AND (d.last_seen IS NULL OR d.last_seen < u.t)
"""
_STATUS_INSERT = """
INSERT INTO device_status (device_id, time, online, reason)
SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::bool[], %s::text[])
ON CONFLICT DO NOTHING
"""
_STATUS_APPLY = """
UPDATE devices AS d SET online = u.online, status_changed_at = u.t
FROM unnest(%s::text[], %s::timestamptz[], %s::bool[]) AS u(id, t, online)
WHERE d.id = u.id AND (d.status_changed_at IS NULL OR d.status_changed_at <= u.t)
"""
_ENSURE_PARTITIONS = "SELECT citypulse_ensure_partitions(%s, %s)"
LAST_SEEN_STEP: Final = timedelta(seconds=10)
_STAGED_AFTER_DUPLICATE: Final = 20
_NEVER: Final = datetime.max.replace(tzinfo=UTC)


class Item(NamedTuple):
    """One received message, decoded, waiting to be stored and acknowledged.

    A named tuple: one is made per message, and it is immutable at a fraction of the cost
    of constructing a frozen dataclass.
    """

    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: datetime
    decoded: Decoded


@dataclass(slots=True)
class StoreResult:
    stored: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    statuses: int = 0


class PostgresSink:
    """Writes batches of :class:`Item` to PostgreSQL; owns one connection.

    Use as a context manager.  :meth:`store` either commits the whole batch or raises
    :class:`TransientStoreError` (retry later; nothing was written) or
    :class:`PermanentStoreError`; so does opening the connection, on entry or after one
    was lost.  Which of the two is :func:`citypulse.db.is_transient`'s answer.
    """

    def __init__(
        self,
        *,
        database_url: str,
        worker_id: str,
        unknown_devices: str = "register",
        statement_timeout_ms: int = 30_000,
    ) -> None:
        if unknown_devices not in ("register", "reject"):
            raise ValueError("unknown_devices must be register or reject")
        self._url = database_url
        self._worker = worker_id
        self._policy = unknown_devices
        self._timeout = statement_timeout_ms
        self._conn: psycopg.Connection[Any] | None = None
        self._layouts = _layouts()
        self._registered: dict[str, tuple[str, str]] = {}  # device id -> (kind, district)
        # device id -> the topic (the decoder's cached object) its messages passed on; a
        # message on that same object passes without looking at kind and district again
        self._checked: dict[str, TopicInfo] = {}
        self._last_seen: dict[str, datetime] = {}
        self._days: set[int] = set()  # UTC days (ordinals) known to have partitions
        self._span = (_NEVER, _NEVER)  # [from, to): times within days known, when one run
        self._stage_next = 0  # batches still to go through the staging table

    def __enter__(self) -> PostgresSink:
        self._connection()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self.close()
            conn: psycopg.Connection[Any] | None = None
            try:
                conn = connect(self._url, application_name=f"citypulse-ingest {self._worker}")
                conn.execute(
                    "SELECT set_config('statement_timeout', %s, false)", (str(self._timeout),)
                )
                for layout in self._layouts.values():
                    conn.execute(layout.stage_sql)
                conn.commit()
            except Exception as exc:
                # Decided here, once: a refused, lost or busy server is retried; a bad URL
                # or option, a failed login, a missing table or a bug would be retried
                # forever, so it stops the worker with the reason instead.
                if conn is not None:
                    conn.close()
                if is_transient(exc):
                    raise TransientStoreError(f"database unavailable: {exc}") from exc
                detail = exc if isinstance(exc, CitypulseError) else f"{type(exc).__name__}: {exc}"
                raise PermanentStoreError(f"cannot open a database connection: {detail}") from exc
            self._conn = conn
        return self._conn

    def store(self, batch: Sequence[Item]) -> StoreResult:
        """Store ``batch`` in one transaction (see class docstring)."""
        conn = self._connection()
        try:
            self._ensure_partitions(conn, batch)
            with conn.transaction():
                result = self._store(conn, batch)
        except psycopg.errors.QueryCanceled as exc:
            self._drop_broken(conn)
            raise TransientStoreError(
                f"a statement of the batch exceeded statement_timeout ({self._timeout} ms)"
                f" and was cancelled (a lock held elsewhere, or an overloaded server): {exc}",
                timed_out=True,
            ) from exc
        except psycopg.Error as exc:
            self._drop_broken(conn)
            if is_transient(exc):
                raise TransientStoreError(f"{type(exc).__name__}: {exc}") from exc
            raise PermanentStoreError(f"{type(exc).__name__}: {exc}") from exc
        return result

    def _drop_broken(self, conn: psycopg.Connection[Any]) -> None:
        if conn.broken or conn.closed:
            self.close()
        else:
            try:
                conn.rollback()
            except psycopg.Error:
                self.close()

    def _ensure_partitions(self, conn: psycopg.Connection[Any], batch: Sequence[Item]) -> None:
        days = self._days
        missing: set[int] = set()
        low, high = self._span
        for item in batch:
            decoded = item.decoded
            if decoded.oldest is not None and decoded.newest is not None:
                if low <= decoded.oldest and decoded.newest < high:
                    continue  # two comparisons instead of two ordinals and lookups
                first, last = decoded.oldest.toordinal(), decoded.newest.toordinal()
                if first not in days or last not in days:
                    missing.update((first, last))
        missing -= days
        if not missing:
            return
        with conn.transaction():
            start = datetime.combine(date.fromordinal(min(missing)), dtime(), UTC)
            end = datetime.combine(date.fromordinal(max(missing)), dtime(), UTC)
            conn.execute(_ENSURE_PARTITIONS, (start, end + timedelta(hours=1)))
        days.update(range(min(missing), max(missing) + 1))
        first, last = min(days), max(days)
        if len(days) == last - first + 1:  # one run of days: its bounds say it all
            self._span = (
                datetime.combine(date.fromordinal(first), dtime(), UTC),
                datetime.combine(date.fromordinal(last + 1), dtime(), UTC),
            )

    def _store(self, conn: psycopg.Connection[Any], batch: Sequence[Item]) -> StoreResult:
        result = StoreResult()
        dead: list[tuple[Any, ...]] = []
        by_kind: dict[DeviceKind, list[tuple[Any, ...]]] = {}
        statuses: list[DeviceStatus] = []
        newest: dict[str, datetime] = {}
        accepted: list[Item] = self._check_devices(conn, batch, dead)
        for item in accepted:
            decoded = item.decoded
            if decoded.rejections:
                dead.extend(self._dead(item, rejection) for rejection in decoded.rejections)
            if decoded.rows:
                topic = decoded.topic
                assert topic is not None
                rows = by_kind.get(topic.kind)
                if rows is None:
                    by_kind[topic.kind] = list(decoded.rows)
                else:
                    rows.extend(decoded.rows)
                t = decoded.newest
                assert t is not None
                if newest.get(topic.device_id, t) <= t:
                    newest[topic.device_id] = t
            if decoded.status is not None:
                statuses.append(decoded.status)
        for kind in _KIND_ORDER:
            rows = by_kind.get(kind)
            if not rows:
                continue
            stored = self._copy_rows(conn, self._layouts[kind], rows)
            result.stored += stored
            result.duplicates += len(rows) - stored
        for reason, count in _count(dead):
            result.rejected[reason] = result.rejected.get(reason, 0) + count
        if dead:
            with conn.cursor() as cur:
                copy_rows(cur, _DEAD_LETTER_COPY, _DEAD_LETTER_TYPES, dead)
        status_devices = {s.device_id for s in statuses}
        if statuses:
            conn.execute(
                _STATUS_INSERT,
                (
                    [s.device_id for s in statuses],
                    [s.time for s in statuses],
                    [s.online for s in statuses],
                    [s.reason for s in statuses],
                ),
            )
            latest: dict[str, DeviceStatus] = {}
            for s in sorted(statuses, key=lambda s: s.time):
                latest[s.device_id] = s
            ordered = sorted(latest.values(), key=lambda s: s.device_id)
            conn.execute(
                _STATUS_APPLY,
                (
                    [s.device_id for s in ordered],
                    [s.time for s in ordered],
                    [s.online for s in ordered],
                ),
            )
            # last_seen is when the device itself was last heard: a reading or its
            # "online".  An offline status (above all a will, which the broker publishes,
            # stamped on receipt) says when it stopped and lives in status_changed_at;
            # were it to move last_seen, a replay of the past would read "now" there.
            for s in statuses:
                if s.online and newest.get(s.device_id, s.time) <= s.time:
                    newest[s.device_id] = s.time
            result.statuses = len(statuses)
        # last_seen is written when it advances by LAST_SEEN_STEP or more (or on a status),
        # so a steady stream does not rewrite every device row in every batch.
        seen = self._last_seen
        advanced = sorted(
            (dev, t)
            for dev, t in newest.items()
            if dev not in seen
            or t - seen[dev] >= LAST_SEEN_STEP
            or (dev in status_devices and seen[dev] < t)
        )
        if advanced:
            devices = text_array([dev for dev, _ in advanced])
            conn.execute(_LAST_SEEN, (devices, text_array([t.isoformat() for _, t in advanced])))
        seen.update(advanced)
        return result

    def _copy_rows(
        self, conn: psycopg.Connection[Any], layout: _Layout, rows: list[tuple[Any, ...]]
    ) -> int:
        """COPY ``rows`` into the readings table; returns how many were new.

        Optimistic: straight into the table under a savepoint, which is a quarter cheaper
        for PostgreSQL than staging; a duplicate (a redelivery) fails that COPY, and then
        this batch and the next few go through the staging table and ON CONFLICT DO NOTHING.
        """
        if self._stage_next <= 0:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    copy_rows(cur, layout.direct_sql, layout.types, rows)
            except psycopg.errors.UniqueViolation:
                self._stage_next = _STAGED_AFTER_DUPLICATE  # redeliveries come in runs
            else:
                return len(rows)
        self._stage_next -= 1
        with conn.cursor() as cur:
            copy_rows(cur, layout.copy_sql, layout.types, rows)
            cur.execute(layout.insert_sql)
            return max(cur.rowcount, 0)

    def _check_devices(
        self, conn: psycopg.Connection[Any], batch: Sequence[Item], dead: list[tuple[Any, ...]]
    ) -> list[Item]:
        """Registers or rejects unknown devices; returns the items that may be stored.

        A known device's message must come on a topic with the kind and district it is
        registered with (any district if registered without one): the broker's ACL
        confines a device to its own id only.
        """
        registered = self._registered
        checked = self._checked
        unknown: dict[str, TopicInfo] = {}
        for item in batch:
            topic = item.decoded.topic
            if (
                topic is not None
                and checked.get(topic.device_id) is not topic
                and topic.device_id not in registered
            ):
                unknown[topic.device_id] = topic
        if unknown:
            for device_id, kind, district in conn.execute(_KNOWN, (list(unknown),)):
                registered[device_id] = (kind, district)
            missing = sorted(d for d in unknown if d not in registered)
            if missing and self._policy == "register":
                conn.execute(
                    _REGISTER,
                    (
                        missing,
                        [unknown[d].kind.value for d in missing],
                        [unknown[d].district for d in missing],
                    ),
                )
                for device_id, kind, district in conn.execute(_KNOWN, (missing,)):
                    registered[device_id] = (kind, district)
        accepted: list[Item] = []
        for item in batch:
            topic = item.decoded.topic
            if topic is None:
                dead.extend(self._dead(item, r) for r in item.decoded.rejections)
                continue
            if checked.get(topic.device_id) is topic:  # this topic passed before
                accepted.append(item)
                continue
            known = registered.get(topic.device_id)
            if known is None:
                rejection = Rejection(
                    "unknown_device", f"device {topic.device_id} is not registered"
                )
            elif known[0] != topic.kind.value:
                rejection = Rejection(
                    "kind_mismatch",
                    f"device {topic.device_id} is registered as {known[0]}, not {topic.kind.value}",
                )
            elif known[1] and known[1] != topic.district:  # "": the registry does not say
                rejection = Rejection(
                    "district_mismatch",
                    f"device {topic.device_id} is registered in {known[1]}, not {topic.district}",
                )
            else:
                accepted.append(item)
                checked[topic.device_id] = topic
                continue
            dead.append(self._dead(item, rejection))
        return accepted

    def _dead(self, item: Item, rejection: Rejection) -> tuple[Any, ...]:
        topic = item.decoded.topic
        return (
            item.received_at,
            item.topic,
            item.payload,
            rejection.reason,
            rejection.detail,
            topic.device_id if topic else None,
            self._worker,
        )

    def forget_devices(self) -> None:
        """Drop the device cache (after the registry changed under us)."""
        self._registered.clear()
        self._checked.clear()


def _count(dead: Iterable[tuple[Any, ...]]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for d in dead:
        counts[d[3]] = counts.get(d[3], 0) + 1
    return list(counts.items())
