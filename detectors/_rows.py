"""Rows read by name: what the detect worker selects, one record per source table.

Each record is a NamedTuple whose fields are the columns its SELECTs return, in order
and by name: the SELECTs are built from the fields, so the monitors read ``r.time``,
``r.phase``, ``r.lane_id`` and no column can shift under them.  Times are epoch
seconds; ``received_at`` is what the live worker's watermark follows.  NamedTuples
rather than the house's frozen dataclasses: the worker builds one per stored row on its
hot path, and a tuple built by ``_make`` is the cheapest record psycopg can fill.

:data:`LIVE` and :data:`REPLAY` are the worker's two sets of :class:`SourceQuery`:
rows received in a window of the held partitions, and rows whose time is in a stretch.
:func:`fetch_one` reads the colder queries (checkpoints, the clock, incidents) as dicts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, RowMaker, dict_row

from citypulse import DeviceKind
from citypulse.db import READING_TABLES


class TrafficLightRow(NamedTuple):
    device_id: str
    time: float
    phase: str
    phase_elapsed: float | None
    lamp_fault: bool | None
    controller_mode: str | None
    received_at: float


class CameraRow(NamedTuple):
    device_id: str
    time: float
    lane_id: int  # a camera's lanes are separate series
    intensity: int | None
    average_vehicle_speed: float | None
    occupancy: float | None
    heavy_vehicle_share: float | None
    received_at: float


class ParkingRow(NamedTuple):
    device_id: str
    time: float
    total_spot_number: int | None
    occupied_spot_number: int | None
    out_of_service_slot_number: int | None
    received_at: float


class EcologyRow(NamedTuple):
    device_id: str
    time: float
    pm25: float | None
    pm10: float | None
    no2: float | None
    so2: float | None
    co: float | None
    o3: float | None
    received_at: float


class StatusRow(NamedTuple):
    """An online/offline transition (``device_status``)."""

    device_id: str
    time: float
    online: bool
    reason: str
    received_at: float


class DeadLetterRow(NamedTuple):
    """A payload ingest could not store (``dead_letters``); its time is its arrival."""

    device_id: str
    time: float
    id: int
    reason: str
    detail: str
    received_at: float


ReadingRow = TrafficLightRow | CameraRow | ParkingRow | EcologyRow
SourceRow = ReadingRow | StatusRow | DeadLetterRow


class Rank(enum.IntEnum):
    """The order of events at the same instant: readings, status changes, dead letters."""

    READING = 0
    STATUS = 1
    DEAD_LETTER = 2


@dataclass(frozen=True, slots=True, eq=False)
class SourceQuery:
    """One SELECT the worker runs, the record its rows become and their events' rank."""

    record: type[SourceRow]
    rank: Rank
    query: sql.Composed

    def fetch(self, conn: psycopg.Connection[Any], params: Mapping[str, object]) -> list[SourceRow]:
        with conn.cursor(row_factory=self._row_maker) as cur:
            return cur.execute(self.query, params).fetchall()

    def _row_maker(self, cursor: psycopg.Cursor[Any]) -> RowMaker[SourceRow]:
        return self.record._make


def _select(
    record: type[SourceRow],
    table: str,
    where: str,
    *,
    time_from: str = "time",
    order_by: str | None = None,
    limit: bool = False,
) -> sql.Composed:
    """SELECT ``record``'s fields from ``table``, its ``time`` (the column ``time_from``)
    and ``received_at`` in epoch seconds, ordered by the table's column ``order_by``.

    ORDER BY names the table's column, not the bare name: that would be the output's
    epoch of the same name, sorted afresh instead of read in index order (and with ties
    in another order)."""
    epochs = {"time": time_from, "received_at": "received_at"}
    columns = [
        sql.SQL("extract(epoch FROM {})::float8 AS {}").format(
            sql.Identifier(epochs[f]), sql.Identifier(f)
        )
        if f in epochs
        else sql.Identifier(f)
        for f in record._fields
    ]
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(columns), sql.Identifier(table), sql.SQL(where)
    )
    if order_by is not None:
        query += sql.SQL(" ORDER BY {}").format(sql.Identifier(table, order_by))
    if limit:
        query += sql.SQL(" LIMIT %(limit)s")
    return query


READING_ROWS: Final[Mapping[DeviceKind, type[ReadingRow]]] = {
    DeviceKind.TRAFFIC_LIGHT: TrafficLightRow,
    DeviceKind.CAMERA: CameraRow,
    DeviceKind.PARKING: ParkingRow,
    DeviceKind.ECOLOGY: EcologyRow,
}


def _dead_letters(where: str, *, order_by: str | None = None, limit: bool = False) -> SourceQuery:
    # A dead letter's time is its arrival; one without a device is no device's fault.
    return SourceQuery(
        DeadLetterRow,
        Rank.DEAD_LETTER,
        _select(
            DeadLetterRow,
            "dead_letters",
            "device_id IS NOT NULL AND " + where,
            time_from="received_at",
            order_by=order_by,
            limit=limit,
        ),
    )


_WINDOW: Final = (
    "received_at > to_timestamp(%(since)s) AND received_at <= to_timestamp(%(upto)s) "
    "AND citypulse_partition(device_id, %(partitions)s) = ANY(%(held)s)"
)

# Rows received in (since, upto] of the held partitions, oldest arrival first.
LIVE: Final[tuple[SourceQuery, ...]] = (
    *(
        SourceQuery(
            record,
            Rank.READING,
            _select(
                record,
                READING_TABLES[kind],
                _WINDOW + " AND time > to_timestamp(%(oldest)s)",
                order_by="received_at",
                limit=True,
            ),
        )
        for kind, record in READING_ROWS.items()
    ),
    SourceQuery(
        StatusRow,
        Rank.STATUS,
        _select(StatusRow, "device_status", _WINDOW, order_by="received_at", limit=True),
    ),
    _dead_letters(_WINDOW, order_by="received_at", limit=True),
)

_STRETCH: Final = "time >= to_timestamp(%(start)s) AND time < to_timestamp(%(end)s)"

# Rows with start <= time < end (arrival, for dead letters).
REPLAY: Final[tuple[SourceQuery, ...]] = (
    *(
        SourceQuery(
            record, Rank.READING, _select(record, READING_TABLES[kind], _STRETCH, order_by="time")
        )
        for kind, record in READING_ROWS.items()
    ),
    SourceQuery(StatusRow, Rank.STATUS, _select(StatusRow, "device_status", _STRETCH)),
    _dead_letters("received_at >= to_timestamp(%(start)s) AND received_at < to_timestamp(%(end)s)"),
)


def fetch_one(
    conn: psycopg.Connection[Any], query: str, params: Sequence[object] = ()
) -> DictRow | None:
    """The first row of ``query`` as a dict by column name, for queries run once per poll
    or per incident change rather than per reading."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchone()


def _last_heard_query(partitioned: bool) -> sql.Composed:
    """Each device's newest reading time in ``[before - horizon, before)``."""
    where = "time >= to_timestamp(%(from)s) AND time < to_timestamp(%(before)s)"
    if partitioned:
        where += " AND citypulse_partition(device_id, %(partitions)s) = %(partition)s"
    parts = [
        sql.SQL("SELECT device_id, max(time) AS t FROM {} WHERE {} GROUP BY device_id").format(
            sql.Identifier(table), sql.SQL(where)
        )
        for table in READING_TABLES.values()
    ]
    return sql.SQL(
        "SELECT device_id, extract(epoch FROM max(t))::float8 FROM ({}) AS x GROUP BY device_id"
    ).format(sql.SQL(" UNION ALL ").join(parts))


_LAST_HEARD: Final = _last_heard_query(partitioned=True)
_LAST_HEARD_ALL: Final = _last_heard_query(partitioned=False)


def last_heard(
    conn: psycopg.Connection[Any],
    before: float,
    horizon_s: float,
    *,
    partition: tuple[int, int] | None = None,
) -> dict[str, float]:
    """When each device last reported before ``before`` (at most ``horizon_s`` earlier),
    of one ``(partitions, partition)`` or of all devices."""
    params: dict[str, object] = {"from": before - horizon_s, "before": before}
    query = _LAST_HEARD_ALL
    if partition is not None:
        params["partitions"], params["partition"] = partition
        query = _LAST_HEARD
    return {str(d): float(t) for d, t in conn.execute(query, params).fetchall()}
