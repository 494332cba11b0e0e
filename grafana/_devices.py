"""What the device dashboards share: per-device series and incidents.

Per-device series come from the tier fitting the range (only the top devices by a rank
on crowded panels); the incidents of some device kinds show as annotations and a table.
"""

from __future__ import annotations

from datetime import timedelta

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import table as tbl
from grafana_foundation_sdk.models import dashboard as dm

from grafana._panels import annotation, dashboard_of_kind, device_link, grid, kinds_sql
from grafana._query import GATE, tiered


def weighted(column: str) -> str:
    """SQL: the mean of a rollup's ``column`` weighted by each bucket's readings."""
    return f"sum({column} * readings) / nullif(sum(readings), 0)"


#: Per-device panels (a series per camera or controller) switch tiers earlier.
DEVICE_RAW_MAX = timedelta(hours=1)
DEVICE_MINUTE_MAX = timedelta(hours=6)


#: Panels with a series per device draw at most this many (the top ones by a rank).
TOP_DEVICES = 20


def top(kind: str, rank: str) -> str:
    """SQL: ``AND device_id IN`` the :data:`TOP_DEVICES` chosen devices highest by ``rank``.

    Ranked over the range from the 1-hour rollup: with "All" of 400 cameras a panel would
    draw 400 lines and read a month of each.  An array, not ``IN (subquery)``: PostgreSQL
    then reads the chosen devices by the primary key (device, time) instead of joining
    every device's rows of the range to them (4,000 cameras' 6 hours took seconds).
    """
    return f"""AND device_id = ANY(ARRAY(
    SELECT device_id FROM {kind}_1h
    WHERE device_id IN ($device)
      AND bucket >= date_trunc('hour', $__timeFrom()::timestamptz)
      AND bucket <= $__timeTo()::timestamptz
    GROUP BY device_id
    ORDER BY {rank} DESC NULLS LAST, device_id
    LIMIT {TOP_DEVICES}))
"""


def per_device(
    kind: str, raw: str | None, rollup: str, *, extra: str = "", rank: str | None = None
) -> str:
    """Per-device series (``metric`` = device id) from the tier fitting the range.

    With ``rank`` (an aggregate over the 1-hour rollup) only the top devices are drawn.
    """
    # The top devices are chosen among the selected ones: the selection is not repeated,
    # so that the chosen few are the only devices the planner has to look up.
    chosen = "AND device_id IN ($device) " if rank is None else top(kind, rank)

    def branch(source: str, col: str, select: str) -> str:
        return (
            f"SELECT $__timeGroupAlias({col}, $__interval), device_id AS metric, {select}\n"
            f"FROM {source}\nWHERE $__timeFilter({col}) {chosen}{extra}{GATE}\n"
            "GROUP BY 1, 2"
        )

    return tiered(
        raw=branch(f"{kind}_readings", "time", raw) if raw is not None else None,
        minute=branch(f"{kind}_1m", "bucket", rollup.replace("{grain}", "60")),
        hour=branch(f"{kind}_1h", "bucket", rollup.replace("{grain}", "3600")),
        raw_max=DEVICE_RAW_MAX,
        minute_max=DEVICE_MINUTE_MAX,
    )


def incident_annotation(kinds: tuple[str, ...]) -> db.AnnotationQuery:
    return annotation(
        "Incidents",
        f"""
        SELECT i.started_at AS time, coalesce(i.resolved_at, now()) AS timeend,
               i.type || ' · ' || d.name || ' (' || i.device_id || '), severity ' || i.severity
                   AS text,
               i.type AS tags
        FROM incidents i JOIN devices d ON d.id = i.device_id
        WHERE i.started_at <= $__timeTo()::timestamptz
          AND coalesce(i.resolved_at, now()) >= $__timeFrom()::timestamptz
          AND d.kind IN ({kinds_sql(kinds)}) AND i.device_id IN ($device)
        ORDER BY 1
        """,
    )


def incidents_table(kinds: tuple[str, ...], title: str, description: str) -> tbl.Panel:
    return grid(
        title,
        f"""
        SELECT i.id, i.type, i.severity, i.status, i.device_id, d.name AS device,
               d.district, i.started_at, i.resolved_at,
               extract(epoch from coalesce(i.resolved_at, now()) - i.started_at) AS duration,
               i.value, i.limit_value, i.unit, {dashboard_of_kind("d.kind")} AS dashboard
        FROM incidents i JOIN devices d ON d.id = i.device_id
        WHERE i.started_at <= $__timeTo()::timestamptz
          AND coalesce(i.resolved_at, now()) >= $__timeFrom()::timestamptz
          AND d.kind IN ({kinds_sql(kinds)}) AND i.device_id IN ($device)
        ORDER BY i.status = 'open' DESC, i.started_at DESC
        LIMIT 500
        """,
        description=description,
        links=[device_link()],
    ).override_by_name("duration", [dm.DynamicConfigValue(id_val="unit", value="s")])
