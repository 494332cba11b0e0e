"""The operations dashboards: incidents and appeals, ingest health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from grafana._panels import (
    ALL_KINDS,
    NOT_DONE,
    SILENT_AFTER_INTERVALS,
    big_number,
    dashboard_of_kind,
    device_link,
    grid,
    new_dashboard,
    open_incidents,
    silent_sql,
    ts,
)
from grafana._query import GATE, bucket_seconds, series, tiered

#: Sensor appeals follow their incident's device; citizens' appeals have none, nor do the
#: incidents other systems' events open (source ``system``).
_APPEAL_SCOPE = """
    (a.district IN ($district) OR a.district = '')
    AND (a.incident_id IS NULL
         OR EXISTS (SELECT 1 FROM incidents i
                    WHERE i.id = a.incident_id
                      AND (i.device_id IS NULL OR i.device_id IN ($device))))
"""


def _seconds() -> list[dm.DynamicConfigValue]:
    return [dm.DynamicConfigValue(id_val="unit", value="dtdurations")]


def appeals(zone: str) -> db.Dashboard:
    d = new_dashboard(
        zone,
        "appeals",
        "citypulse · Incidents and appeals",
        "The governance center's queue: appeals from sensors and from citizens side by side, "
        "by sector block and agency, overdue ones, and how fast they are accepted and resolved.",
        ALL_KINDS,
    )
    for title, source in (("Open sensor appeals", "sensor"), ("Open citizen appeals", "citizen")):
        d = d.with_panel(
            big_number(
                title,
                f"SELECT count(*) AS open FROM appeals a WHERE a.source = '{source}' "
                f"AND a.status NOT IN {NOT_DONE} AND {_APPEAL_SCOPE}",
                description=f"Appeals from {source}s not resolved, closed or rejected yet.",
                steps=((None, "blue"),),
            )
        )
    d = d.with_panel(
        big_number(
            "Overdue",
            f"SELECT count(*) AS overdue FROM appeals a WHERE a.expected_at < now() "
            f"AND a.status NOT IN {NOT_DONE} AND {_APPEAL_SCOPE}",
            description="Open appeals past their deadline (expected_at).",
            steps=((None, "green"), (1, "red")),
        )
    )
    d = d.with_panel(
        open_incidents("Incidents not resolved yet (each has a sensor appeal when routed).")
    )
    d = d.with_panel(
        ts(
            "Appeals received: sensors vs. citizens",
            [
                series(
                    f"""
                    SELECT $__timeGroupAlias(a.requested_at, $__interval), a.source AS metric,
                           count(*) AS appeals
                    FROM appeals a
                    WHERE $__timeFilter(a.requested_at) AND {_APPEAL_SCOPE}
                    GROUP BY 1, 2
                    ORDER BY 1
                    """
                )
            ],
            unit="short",
            description="New appeals per bucket, by source.",
            min_interval="1h",
            bars=True,
        )
    )
    d = d.with_panel(
        ts(
            "Open queue: sensors vs. citizens",
            [
                series(
                    f"""
                    SELECT t AS time, a.source AS metric, count(a.id) AS open
                    FROM generate_series(date_bin('1 hour', $__timeFrom()::timestamptz,
                                                  '2000-01-01 00:00+00'),
                                         $__timeTo()::timestamptz, interval '1 hour') AS t
                    JOIN appeals a ON a.requested_at <= t
                         AND coalesce(a.resolved_at, a.closed_at, 'infinity') > t
                    WHERE {_APPEAL_SCOPE}
                    GROUP BY 1, 2
                    ORDER BY 1
                    """
                )
            ],
            unit="short",
            description="Appeals open at each hour (received and not yet resolved or closed).",
        )
    )
    d = d.with_panel(
        grid(
            "Queue",
            f"""
            SELECT a.id, a.source, a.status, a.priority, a.sector, a.agency, a.title,
                   a.district, a.address, a.requested_at, a.expected_at,
                   a.expected_at < now() AS overdue,
                   extract(epoch from now() - a.requested_at) AS age,
                   i.device_id, i.type AS incident_type
            FROM appeals a LEFT JOIN incidents i ON i.id = a.incident_id
            WHERE a.status NOT IN {NOT_DONE} AND {_APPEAL_SCOPE}
            ORDER BY (a.expected_at < now()) DESC, a.priority DESC, a.requested_at
            LIMIT 500
            """,
            description="Open appeals, overdue first, then by priority and age.",
            h=10,
        ).override_by_name("age", _seconds())
    )
    d = d.with_panel(
        grid(
            "By sector block and agency",
            f"""
            SELECT a.sector, a.agency,
                   count(*) FILTER (WHERE a.source = 'sensor') AS sensor,
                   count(*) FILTER (WHERE a.source = 'citizen') AS citizen,
                   count(*) FILTER (WHERE a.status NOT IN {NOT_DONE}) AS open,
                   count(*) FILTER (WHERE a.status NOT IN {NOT_DONE}
                                    AND a.expected_at < now()) AS overdue,
                   count(*) FILTER (WHERE a.confirmed_by_sensors) AS confirmed_by_sensors
            FROM appeals a
            WHERE $__timeFilter(a.requested_at) AND {_APPEAL_SCOPE}
            GROUP BY 1, 2
            ORDER BY open DESC, count(*) DESC
            """,
            description="Appeals received in the range per sector block (Дороги, Экология, ...) "
            "and agency.",
            w=12,
        )
    )
    d = d.with_panel(
        grid(
            "Time to accept and to resolve, by agency",
            f"""
            WITH chosen AS (
                SELECT a.* FROM appeals a
                WHERE $__timeFilter(a.requested_at) AND {_APPEAL_SCOPE}
            ), firsts AS (
                SELECT e.appeal_id,
                       min(e.time) FILTER (WHERE e.status = 'accepted') AS accepted,
                       min(e.time) FILTER (WHERE e.status IN ('resolved', 'closed')) AS resolved
                FROM appeal_events e
                WHERE e.appeal_id IN (SELECT id FROM chosen)
                GROUP BY 1
            ), spans AS (
                SELECT c.agency, c.source,
                       extract(epoch from coalesce(f.accepted, c.accepted_at) - c.requested_at)
                           AS to_accept,
                       extract(epoch from coalesce(f.resolved, c.resolved_at, c.closed_at)
                                          - c.requested_at) AS to_resolve
                FROM chosen c LEFT JOIN firsts f ON f.appeal_id = c.id
            )
            SELECT agency, source, count(*) AS appeals,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY to_accept) AS accept_median,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY to_accept) AS accept_p90,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY to_resolve) AS resolve_median,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY to_resolve) AS resolve_p90,
                   count(to_resolve) AS resolved
            FROM spans
            GROUP BY 1, 2
            ORDER BY 1, 2
            """,
            description="From the appeals' status history (appeal_events; the appeal's own "
            "timestamps where no event exists), for appeals received in the range.",
            w=12,
        ).override_by_regexp("(accept|resolve)_.*", _seconds())
    )
    return d.with_panel(
        ts(
            "Median time to resolve, by source",
            [
                series(
                    f"""
                    SELECT $__timeGroupAlias(a.requested_at, $__interval), a.source AS metric,
                           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch from
                               coalesce(a.resolved_at, a.closed_at) - a.requested_at)) AS median
                    FROM appeals a
                    WHERE $__timeFilter(a.requested_at) AND {_APPEAL_SCOPE}
                      AND coalesce(a.resolved_at, a.closed_at) IS NOT NULL
                    GROUP BY 1, 2
                    ORDER BY 1
                    """
                )
            ],
            unit="dtdurations",
            description="Of the appeals received in each bucket and resolved since.",
            w=24,
            min_interval="6h",
            bars=True,
        )
    )


def _ingest_tiers(select: str, *, per_worker: bool = False) -> str:
    """``ingest_stats`` for ranges up to 36 h, its hourly sums (0010) beyond.

    ``{seconds}`` in ``select`` becomes the seconds in a bucket of each source.
    """
    metric = "worker AS metric, " if per_worker else ""
    group = "1, 2" if per_worker else "1"

    def branch(source: str, col: str, grain: int) -> str:
        seconds = bucket_seconds(grain)
        return (
            f"SELECT $__timeGroupAlias({col}, $__interval), {metric}"
            f"{select.replace('{seconds}', seconds)}\n"
            f"FROM {source}\nWHERE $__timeFilter({col}) {GATE}\nGROUP BY {group}"
        )

    return tiered(
        raw=None,
        minute=branch("ingest_stats", "time", 1),
        hour=branch("ingest_stats_1h", "bucket", 3600),
    )


def ingest(zone: str) -> db.Dashboard:
    d = new_dashboard(
        zone,
        "ingest",
        "citypulse · Ingest health",
        "Readings per second, rejected payloads by reason, silent devices and ingest lag.",
        ALL_KINDS,
    )
    silent = silent_sql(or_offline=False)
    d = d.with_panel(
        big_number(
            "Readings per second (last 5 min)",
            "SELECT coalesce(sum(stored) / 300.0, 0) AS rate FROM ingest_stats "
            "WHERE time > now() - interval '5 minutes'",
            description="Readings stored per second by all ingest workers.",
            unit="wps",
            steps=((None, "blue"),),
        )
    )
    d = d.with_panel(
        big_number(
            "Dead letters (range)",
            "SELECT count(*) AS rejected FROM dead_letters WHERE $__timeFilter(received_at)",
            description="Payloads ingest could not store, kept with the reason.",
            steps=((None, "green"), (1, "orange")),
        )
    )
    d = d.with_panel(
        big_number(
            "Devices silent",
            f"SELECT count(*) AS silent FROM devices d WHERE {silent} "
            "AND d.district IN ($district) AND d.id IN ($device)",
            description=f"No reading for {SILENT_AFTER_INTERVALS} reporting intervals.",
            steps=((None, "green"), (1, "orange"), (10, "red")),
        )
    )
    d = d.with_panel(
        big_number(
            "Lag p99 (last 5 min)",
            "SELECT max(lag_ms_p99) AS lag FROM ingest_stats "
            "WHERE time > now() - interval '5 minutes'",
            description="Reading time to commit, 99th percentile, worst worker.",
            unit="ms",
            steps=((None, "green"), (5000, "orange"), (60000, "red")),
        )
    )
    d = d.with_panel(
        ts(
            "Readings per second",
            [
                series(
                    _ingest_tiers(
                        "sum(received) / {seconds} AS received, "
                        "sum(stored) / {seconds} AS stored, "
                        "sum(duplicates) / {seconds} AS duplicates, "
                        "sum(rejected) / {seconds} AS rejected"
                    )
                )
            ],
            unit="wps",
            description="Per second, all workers together (from ingest_stats).",
            min_interval="1m",
        )
    )
    d = d.with_panel(
        ts(
            "Ingest lag and commit time",
            [
                series(
                    _ingest_tiers(
                        'max(lag_ms_p50) AS "lag p50", max(lag_ms_p99) AS "lag p99", '
                        'max(commit_ms_p99) AS "commit p99"'
                    )
                )
            ],
            unit="ms",
            description="Reading time to commit (device clock against database clock) and "
            "batch commit time, worst worker per bucket.",
            min_interval="1m",
        )
    )
    d = d.with_panel(
        ts(
            "Dead letters by reason",
            [
                series(
                    """
                    SELECT $__timeGroupAlias(received_at, $__interval), reason AS metric,
                           count(*) AS payloads
                    FROM dead_letters
                    WHERE $__timeFilter(received_at)
                    GROUP BY 1, 2
                    ORDER BY 1
                    """
                )
            ],
            unit="short",
            description="Rejected payloads per bucket, by machine-readable reason.",
            min_interval="5m",
            bars=True,
        )
    )
    d = d.with_panel(
        ts(
            "Queue depth per worker",
            [series(_ingest_tiers("max(queue_depth) AS depth", per_worker=True))],
            unit="short",
            description="Messages waiting in each worker's bounded queue (backpressure).",
            min_interval="1m",
        )
    )
    d = d.with_panel(
        grid(
            "Silent devices",
            f"""
            SELECT d.id AS device_id, d.name, d.kind, d.district, d.last_seen,
                   extract(epoch from now() - d.last_seen) AS silent_for,
                   d.report_interval, d.online,
                   {dashboard_of_kind("d.kind")} AS dashboard
            FROM devices d
            WHERE {silent} AND d.district IN ($district) AND d.id IN ($device)
            ORDER BY d.last_seen NULLS FIRST
            """,
            description=f"Devices with nothing for {SILENT_AFTER_INTERVALS} reporting intervals.",
            w=12,
            links=[device_link()],
        ).override_by_name("silent_for", _seconds())
    )
    return d.with_panel(
        grid(
            "Latest dead letters",
            """
            SELECT received_at, reason, detail, topic, device_id, worker,
                   octet_length(payload) AS bytes
            FROM dead_letters
            WHERE $__timeFilter(received_at)
            ORDER BY received_at DESC
            LIMIT 100
            """,
            description="The newest rejected payloads and why (raw bytes stay in dead_letters).",
            w=12,
        )
    )
