"""The soak's figures from the database, against what the publishers sent (lab/_soak_tap).

- *lost*, *unexpected*, *duplicated*: per series (device kind, device, lane) the stored
  readings' count, distinct count and sum of epoch milliseconds are compared with the
  sent ones; only a series that differs is fetched and compared key by key;
- *publish→commit*: the sampled readings' ``received_at`` (stamped when the writing
  transaction begins, so it undercounts by one commit) minus when they left;
- *publish→incident*: each incident that finds an injected fault, from when the data
  that decided it (its ``last_alarm_at`` when first seen) left until it was committed
  (``opened_at``); recall by lab/_eval_scenario's matching;
- database growth per reading, raw and rollups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from citypulse import DeviceKind, percentile
from lab._soak_tap import SentTap, Series

_ROLLUPS = tuple(f"{kind.value}_{width}" for kind in DeviceKind for width in ("1m", "1h"))


def _table(kind: str) -> str:
    return f"{kind}_readings"


def _lane(kind: str) -> sql.Composable:
    return sql.Identifier("lane_id") if kind == DeviceKind.CAMERA.value else sql.Literal(0)


def compare(conn: Any, tap: SentTap) -> dict[str, Any]:
    """Lost, unexpected and duplicated readings, exactly (see the module docstring)."""
    stored: dict[Series, tuple[int, int, int]] = {}
    for kind in DeviceKind:
        query = sql.SQL(
            "SELECT device_id, lane, count(*), count(DISTINCT ms), sum(DISTINCT ms) FROM ("
            " SELECT device_id, {} AS lane, (extract(epoch FROM time) * 1000)::bigint AS ms"
            " FROM {} WHERE NOT time_from_receiver) AS r GROUP BY 1, 2"
        ).format(_lane(kind.value), sql.Identifier(_table(kind.value)))
        for device, lane, rows, distinct, total in conn.execute(query):
            stored[(kind.value, device, int(lane))] = (int(rows), int(distinct), int(total))
    lost = unexpected = duplicates = 0
    lost_sample: list[tuple[str, str, int, int]] = []
    for key in stored.keys() | tap.series.keys():
        rows, distinct, total = stored.get(key, (0, 0, 0))
        duplicates += rows - distinct
        sent = tap.series.get(key)
        want = set(sent) if sent is not None else set()
        if distinct == len(want) and total == sum(want):
            continue
        table, device, lane = key
        have = {
            int(ms)
            for (ms,) in conn.execute(
                sql.SQL(
                    "SELECT (extract(epoch FROM time) * 1000)::bigint FROM {}"
                    " WHERE device_id = %s AND {} = %s AND NOT time_from_receiver"
                ).format(sql.Identifier(_table(table)), _lane(table)),
                (device, lane),
            )
        }
        missing = want - have
        lost += len(missing)
        unexpected += len(have - want)
        lost_sample += [(table, device, lane, ms) for ms in sorted(missing)[:5]]
    sent_n = sum(len(set(a)) for a in tap.series.values())
    return {
        "readings_acknowledged": sent_n,
        "readings_expected": sent_n,
        "readings_stored": sum(d for _, d, _ in stored.values()),
        "lost": lost,
        "lost_sample": sorted(lost_sample)[:5],
        "unexpected": unexpected,
        "duplicates": duplicates,
        "duplicated": duplicates,
    }


def commit_latency(conn: Any, tap: SentTap) -> dict[str, Any]:
    """publish→commit of the sampled readings, in ms."""
    conn.execute(
        "CREATE TEMP TABLE soak_sent (kind text, device_id text, lane integer, ms bigint,"
        " sent double precision)"
    )
    with conn.cursor().copy("COPY soak_sent FROM STDIN") as copy:
        for row in tap.samples:
            copy.write_row(row)
    latencies: list[float] = []
    for kind in DeviceKind:
        query = sql.SQL(
            "SELECT extract(epoch FROM r.received_at) - s.sent FROM soak_sent s JOIN {} r"
            " ON r.device_id = s.device_id AND {} = s.lane"
            " AND r.time = to_timestamp(s.ms / 1000.0) WHERE s.kind = %s"
        ).format(sql.Identifier(_table(kind.value)), _lane_of("r", kind.value))
        latencies += [float(x) * 1000 for (x,) in conn.execute(query, (kind.value,))]
    conn.execute("DROP TABLE soak_sent")
    return {
        "publish_to_commit_ms": {
            "p50": _round(percentile(latencies, 0.5)),
            "p99": _round(percentile(latencies, 0.99)),
            "max": _round(max(latencies, default=None)),
            "samples": len(latencies),
        },
        # the names of the first soak, kept for its readers
        "latency_ms_p50": _round(percentile(latencies, 0.5)),
        "latency_ms_p99": _round(percentile(latencies, 0.99)),
    }


def _lane_of(alias: str, kind: str) -> sql.Composable:
    if kind == DeviceKind.CAMERA.value:
        return sql.Identifier(alias, "lane_id")
    return sql.Literal(0)


def _round(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


@dataclass(frozen=True, slots=True)
class Seen:
    """An incident as the soak's watcher first saw it (epoch seconds)."""

    id: int
    type: str
    device: str
    started: float
    trigger: float  # its last_alarm_at then: the data that decided it
    opened: float


def detection(
    faults: Sequence[Any],
    seen: Mapping[int, Seen],
    resolved: Mapping[int, float | None],
    tap: SentTap,
    *,
    start: float,
    end: float,
) -> dict[str, Any]:
    """Recall of the injected faults and publish→incident of the incidents that found them."""
    from lab._eval_scenario import ACCEPT, EARLY_S, IMMEDIATE, LATE_S, Found, Truth, score

    truth = [Truth.from_json(f.ground_truth()) for f in faults]
    found = [Found(i.id, i.type, i.device, i.started, resolved.get(i.id)) for i in seen.values()]
    result = score(truth, found, start=start - EARLY_S, end=end + LATE_S)
    latencies: list[float] = []
    by_device: dict[str, list[Seen]] = {}
    for i in seen.values():
        by_device.setdefault(i.device, []).append(i)
    for f in truth:
        for device in f.devices:
            onset = f.onset(device)
            hits = sorted(
                (
                    i
                    for i in by_device.get(device, ())
                    if i.type in ACCEPT.get(f.type, ())
                    and onset - EARLY_S <= i.started <= f.end + LATE_S
                ),
                key=lambda i: i.started,
            )
            if not hits:
                continue
            sent = tap.sent_at(hits[0].trigger, device)
            if sent is not None:
                latencies.append(hits[0].opened - sent)
    immediate = [s for k, s in result.by_type.items() if k in IMMEDIATE]
    pairs = sum(s.pairs for s in immediate)
    by_type: dict[str, int] = {}
    for i in seen.values():
        by_type[i.type] = by_type.get(i.type, 0) + 1
    return {
        "incidents_by_type": dict(sorted(by_type.items())),
        "incidents_explained": result.explained,
        "faults": len(truth),
        "fault_pairs": sum(s.pairs for s in result.by_type.values()),
        "faults_found": sum(s.found for s in result.by_type.values()),
        "recall": _round(result.recall, 3),
        "recall_immediate": _round(sum(s.found for s in immediate) / pairs, 3) if pairs else None,
        "recall_by_type": {
            k: [s.found, s.pairs] for k, s in sorted(result.by_type.items()) if s.pairs
        },
        "publish_to_incident_s": {
            "p50": _round(percentile(latencies, 0.5), 3),
            "p99": _round(percentile(latencies, 0.99), 3),
            "max": _round(max(latencies, default=None), 3),
            "n": len(latencies),
        },
    }


def sizes(conn: Any) -> dict[str, int]:
    """Bytes on disk (tables, indexes, TOAST) of the raw readings, of the rollups and of
    the detect workers' checkpoints."""

    def total(tables: Iterable[str]) -> int:
        n = 0
        for t in tables:
            n += int(
                conn.execute(
                    # a plain table has no partition tree: its own size then
                    "SELECT coalesce((SELECT sum(pg_total_relation_size(relid))"
                    " FROM pg_partition_tree(%s::regclass)), pg_total_relation_size(%s::regclass))",
                    (t, t),
                ).fetchone()[0]
            )
        return n

    return {
        "raw": total(_table(k.value) for k in DeviceKind),
        "rollups": total(_ROLLUPS),
        # the detect workers' pickled states, rewritten in place (TOAST): what it holds,
        # dead versions included, is what vacuum has still to reclaim
        "checkpoints": total(["detector_checkpoints"]),
    }


def compression(conn: Any) -> str | float:
    """TimescaleDB's compression ratio of the raw readings, where it runs."""
    has = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if not has:
        return "not available"
    row = conn.execute(
        "SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes)"
        " FROM hypertable_compression_stats(%s)",
        (_table(DeviceKind.CAMERA.value),),
    ).fetchone()
    if not row or not row[1]:
        return "no compressed chunks yet"
    return round(float(row[0]) / float(row[1]), 2)
