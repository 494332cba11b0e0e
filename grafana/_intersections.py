"""The intersections dashboard: signal phases, lamp and door faults, stuck phases."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from grafana._devices import (
    DEVICE_MINUTE_MAX,
    DEVICE_RAW_MAX,
    TOP_DEVICES,
    incident_annotation,
    incidents_table,
    per_device,
)
from grafana._panels import device_link, grid, new_dashboard, thresholds, timeline, ts
from grafana._query import GATE, series, table, tiered

_PHASE_COLOURS = {
    "green": "green",
    "yellow": "yellow",
    "red": "red",
    "red_yellow": "orange",
    "flashing_yellow": "light-yellow",
    "off": "text",
    "cycling": "green",
    "lamp_fault": "orange",
    "stuck": "purple",
    "flashing": "light-yellow",
    "dark": "text",
}
#: A phase longer than this is shown as stuck on long ranges (the detector decides for real).
STUCK_AFTER_S = 120


#: SQL: a rollup bucket's state (what the timeline shows beyond the raw tier).
PHASE_STATE = f"""CASE WHEN dark_readings > 0 THEN 'dark'
                         WHEN flashing_readings > 0 THEN 'flashing'
                         WHEN max_phase_elapsed > {STUCK_AFTER_S} THEN 'stuck'
                         WHEN lamp_fault_readings > 0 THEN 'lamp_fault'
                         ELSE 'cycling' END"""

#: SQL: true where :data:`PHASE_STATE` is not 'cycling' (plain comparisons, cheaper per row).
NOT_CYCLING = (
    f"dark_readings > 0 OR flashing_readings > 0 OR max_phase_elapsed > {STUCK_AFTER_S} "
    "OR lamp_fault_readings > 0"
)


def _phase_state_sql() -> str:
    def rollup(source: str) -> str:
        # The buckets whose state differs from the bucket before, per device.  Nearly
        # every bucket is 'cycling', so only three kinds can differ: a device's first in
        # the range, a bucket of another state, and the bucket after one of those; the
        # lag over them alone equals the lag over every bucket, and they are found by the
        # primary key (device, bucket) instead of sorting every bucket of every device
        # (6 hours of 2,000 controllers' minutes took seconds).
        return f"""
            SELECT time, metric, state FROM (
                SELECT bucket AS time, device_id AS metric, state,
                       lag(state) OVER (PARTITION BY device_id ORDER BY bucket) AS previous
                FROM (
                    SELECT f.* FROM devices d CROSS JOIN LATERAL (
                        SELECT r.bucket, r.device_id, {PHASE_STATE} AS state
                        FROM {source} r
                        WHERE r.device_id = d.id AND $__timeFilter(r.bucket)
                        ORDER BY r.bucket
                        LIMIT 1
                    ) f
                    WHERE d.id IN ($device) {GATE}
                    UNION
                    SELECT x.* FROM (
                        SELECT bucket, device_id, {PHASE_STATE} AS state
                        FROM {source}
                        WHERE $__timeFilter(bucket) AND device_id IN ($device) {GATE}
                          AND ({NOT_CYCLING})
                    ) m CROSS JOIN LATERAL (
                        SELECT m.bucket, m.device_id, m.state
                        UNION ALL
                        (SELECT n.bucket, n.device_id, {PHASE_STATE.replace("WHEN ", "WHEN n.")}
                         FROM {source} n
                         WHERE n.device_id = m.device_id AND n.bucket > m.bucket
                           AND $__timeFilter(n.bucket)
                         ORDER BY n.bucket
                         LIMIT 1)
                    ) x
                ) s
            ) c
            WHERE previous IS DISTINCT FROM state
            """

    return tiered(
        raw="""
            SELECT time, device_id AS metric, phase AS state
            FROM traffic_light_readings
            WHERE $__timeFilter(time) AND device_id IN ($device) /*tier*/
            """,
        minute=rollup("traffic_light_1m"),
        hour=rollup("traffic_light_1h"),
        raw_max=DEVICE_RAW_MAX,
        minute_max=DEVICE_MINUTE_MAX,
        # every phase of 2,000 controllers' hour is 7 million rows: more than a browser
        # draws, and half a minute to send
        raw_devices=TOP_DEVICES,
    )


def intersections(zone: str) -> db.Dashboard:
    d = new_dashboard(
        zone,
        "intersections",
        "citypulse · Intersections",
        "Signal controllers: phases, faults (lamps, cabinet doors, incidents) and phases "
        "that last too long.",
        ("traffic_light",),
    )
    d = d.annotation(incident_annotation(("traffic_light",)))
    d = d.with_panel(
        timeline(
            "Signal phases per controller",
            table(_phase_state_sql()),
            description=f"Phases as reported, for ranges up to 1 h and up to {TOP_DEVICES} "
            f"controllers selected; longer ranges and larger selections show each minute's "
            f"(or hour's) state: cycling, lamp fault, stuck (a phase over {STUCK_AFTER_S} s), "
            f"flashing yellow or dark.",
            partition_by="metric",
            mappings=_PHASE_COLOURS,
            h=12,
        )
    )
    fault_rollup = (
        'sum(lamp_fault_readings) AS "lamp fault readings", '
        'sum(door_open_readings) AS "door open readings"'
    )
    d = d.with_panel(
        ts(
            "Lamp faults and open cabinet doors",
            [
                series(
                    per_device(
                        "traffic_light",
                        'count(*) FILTER (WHERE lamp_fault) AS "lamp fault readings", '
                        'count(*) FILTER (WHERE door_open) AS "door open readings"',
                        fault_rollup,
                        rank="sum(lamp_fault_readings + door_open_readings)",
                    )
                )
            ],
            unit="short",
            description="Readings reporting a failed lamp or an open cabinet door, per "
            f"controller (the {TOP_DEVICES} with most of them).",
            min_interval="1m",
            bars=True,
        )
    )
    d = d.with_panel(
        ts(
            "Longest phase per controller",
            [
                series(
                    per_device(
                        "traffic_light",
                        "max(phase_elapsed) AS seconds",
                        "max(max_phase_elapsed) AS seconds",
                        rank="max(max_phase_elapsed)",
                    )
                )
            ],
            unit="s",
            description=f"The longest time any phase had lasted in each bucket, for the "
            f"{TOP_DEVICES} controllers with the longest phases. The red line is "
            f"{STUCK_AFTER_S} s: longer phases are stuck-phase candidates.",
            min_interval="1m",
        )
        .thresholds(thresholds((None, "green"), (STUCK_AFTER_S, "red")))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.LINE))
    )
    d = d.with_panel(
        grid(
            "Stuck phases",
            """
            SELECT i.device_id, d.name AS controller, d.district, i.started_at, i.resolved_at,
                   extract(epoch from coalesce(i.resolved_at, now()) - i.started_at) AS duration,
                   i.value AS phase_seconds, i.status,
                   'citypulse-intersections' AS dashboard
            FROM incidents i JOIN devices d ON d.id = i.device_id
            WHERE i.type = 'stuck_phase' AND i.device_id IN ($device)
              AND i.started_at <= $__timeTo()::timestamptz
              AND coalesce(i.resolved_at, now()) >= $__timeFrom()::timestamptz
            ORDER BY duration DESC
            """,
            description="Stuck-phase incidents overlapping the range, longest first.",
            w=12,
            links=[device_link()],
        ).override_by_name("duration", [dm.DynamicConfigValue(id_val="unit", value="s")])
    )
    return d.with_panel(
        incidents_table(
            ("traffic_light",),
            "Controller faults and incidents",
            "Every incident on a controller (stuck phase, flashing, dark, lamp fault, silent).",
        ).span(12)
    )
