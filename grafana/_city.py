"""The field dashboards: city overview, intersections, traffic flow, parking, air quality."""

from __future__ import annotations

from datetime import timedelta

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.builders import table as tbl
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from citypulse import AIR_LIMITS
from grafana._panels import (
    ALL_KINDS,
    CITY_TZ,
    NOT_DONE,
    annotation,
    big_number,
    dashboard_of_kind,
    device_link,
    grid,
    heat,
    kinds_sql,
    new_dashboard,
    open_incidents,
    silent_sql,
    thresholds,
    timeline,
    ts,
)
from grafana._query import DATASOURCE, GATE, bucket_seconds, series, table, tiered


def _weighted(column: str) -> str:
    return f"sum({column} * readings) / nullif(sum(readings), 0)"


#: Per-device panels (a series per camera or controller) switch tiers earlier.
DEVICE_RAW_MAX = timedelta(hours=1)
DEVICE_MINUTE_MAX = timedelta(hours=6)


#: Panels with a series per device draw at most this many (the top ones by a rank).
TOP_DEVICES = 20


def _top(kind: str, rank: str) -> str:
    """SQL: ``AND device_id IN`` the :data:`TOP_DEVICES` chosen devices highest by ``rank``.

    Ranked over the range from the 1-hour rollup: with "All" of 400 cameras a panel would
    draw 400 lines and read a month of each.
    """
    return f"""AND device_id IN (
    SELECT device_id FROM {kind}_1h
    WHERE device_id IN ($device)
      AND bucket >= date_trunc('hour', $__timeFrom()::timestamptz)
      AND bucket <= $__timeTo()::timestamptz
    GROUP BY device_id
    ORDER BY {rank} DESC NULLS LAST, device_id
    LIMIT {TOP_DEVICES})
"""


def _per_device(
    kind: str, raw: str | None, rollup: str, *, extra: str = "", rank: str | None = None
) -> str:
    """Per-device series (``metric`` = device id) from the tier fitting the range.

    With ``rank`` (an aggregate over the 1-hour rollup) only the top devices are drawn.
    """
    if rank is not None:
        extra = f"{extra}{_top(kind, rank)}"

    def branch(source: str, col: str, select: str) -> str:
        return (
            f"SELECT $__timeGroupAlias({col}, $__interval), device_id AS metric, {select}\n"
            f"FROM {source}\nWHERE $__timeFilter({col}) AND device_id IN ($device) {extra}{GATE}\n"
            "GROUP BY 1, 2"
        )

    return tiered(
        raw=branch(f"{kind}_readings", "time", raw) if raw is not None else None,
        minute=branch(f"{kind}_1m", "bucket", rollup.replace("{grain}", "60")),
        hour=branch(f"{kind}_1h", "bucket", rollup.replace("{grain}", "3600")),
        raw_max=DEVICE_RAW_MAX,
        minute_max=DEVICE_MINUTE_MAX,
    )


def _incident_annotation(kinds: tuple[str, ...]) -> db.AnnotationQuery:
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


def _incidents_table(kinds: tuple[str, ...], title: str, description: str) -> tbl.Panel:
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


# --- city overview --------------------------------------------------------------------


def _markers(name: str, ref_id: str, style: dict[str, object]) -> cb.MapLayerOptions:
    """A Geomap markers layer drawing query ``ref_id``'s rows at their lat/lon."""
    return (
        cb.MapLayerOptions()
        .type("markers")
        .name(name)
        .location(
            cb.FrameGeometrySource()
            .mode(cm.FrameGeometrySourceMode.COORDS)
            .latitude("lat")
            .longitude("lon")
        )
        .tooltip(True)
        .filter_data({"id": "byRefId", "options": ref_id})
        .config({"showLegend": True, "style": style})
    )


def overview() -> db.Dashboard:
    d = new_dashboard(
        "overview",
        "citypulse · City overview",
        "Every field device on the map, coloured by status and open incidents; the counts "
        "the governance center watches.",
        ALL_KINDS,
    )
    silent = silent_sql(or_offline=True)
    d = d.with_panel(
        big_number(
            "Devices online",
            f"SELECT count(*) FILTER (WHERE NOT {silent}) AS online FROM devices d "
            "WHERE d.district IN ($district) AND d.id IN ($device)",
            description="Devices that reported within three reporting intervals and whose "
            "last status was not offline.",
        )
    )
    d = d.with_panel(
        big_number(
            "Devices silent or offline",
            f"SELECT count(*) FILTER (WHERE {silent}) AS silent FROM devices d "
            "WHERE d.district IN ($district) AND d.id IN ($device)",
            description="Devices with nothing for three reporting intervals, or offline.",
            steps=((None, "green"), (1, "orange"), (10, "red")),
        )
    )
    d = d.with_panel(
        open_incidents("Incidents the detectors opened and that are not resolved yet.")
    )
    d = d.with_panel(
        big_number(
            "Overdue appeals",
            "SELECT count(*) AS overdue FROM appeals a "
            f"WHERE a.expected_at < now() AND a.status NOT IN {NOT_DONE} "
            "AND (a.district IN ($district) OR a.district = '')",
            description="Appeals (sensor and citizen) past their deadline and not done.",
            steps=((None, "green"), (1, "red")),
        )
    )
    status_map = dm.ValueMap(
        options={
            "ok": dm.ValueMappingResult(text="online", color="green", index=0),
            "incident": dm.ValueMappingResult(text="open incident", color="orange", index=1),
            "silent": dm.ValueMappingResult(text="silent / offline", color="red", index=2),
        }
    )
    layer_status = _markers(
        "Devices by status",
        "A",
        {
            "color": {"field": "status", "fixed": "green"},
            "size": {"fixed": 6},
            "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
            "opacity": 0.8,
        },
    )
    layer_incidents = _markers(
        "Open incidents",
        "B",
        {
            "color": {"field": "max_severity", "fixed": "red"},
            "size": {"field": "open_incidents", "fixed": 8, "min": 8, "max": 24},
            "symbol": {"fixed": "img/icons/marker/triangle.svg", "mode": "fixed"},
            "opacity": 0.9,
        },
    )
    devices_sql = f"""
        SELECT d.id AS device_id, d.name, d.kind, d.district, d.lat, d.lon,
               CASE WHEN {silent} THEN 'silent'
                    WHEN count(i.id) > 0 THEN 'incident' ELSE 'ok' END AS status,
               count(i.id) AS open_incidents, d.last_seen,
               {dashboard_of_kind("d.kind")} AS dashboard
        FROM devices d LEFT JOIN incidents i ON i.device_id = d.id AND i.status = 'open'
        WHERE d.lat IS NOT NULL AND d.district IN ($district) AND d.id IN ($device)
        GROUP BY d.id
        """
    incidents_sql = """
        SELECT d.id AS device_id, d.name, d.lat, d.lon, count(*) AS open_incidents,
               max(i.severity) AS max_severity, string_agg(DISTINCT i.type, ', ') AS types
        FROM incidents i JOIN devices d ON d.id = i.device_id
        WHERE i.status = 'open' AND d.lat IS NOT NULL
          AND d.district IN ($district) AND d.id IN ($device)
        GROUP BY d.id
        """
    d = d.with_panel(
        geomap.Panel()
        .title("Devices and open incidents")
        .description(
            "Every device (circle: green online, orange with an open incident, red silent "
            "or offline) and the devices with open incidents (triangle sized by their "
            "number, coloured by the highest severity). Click through to the device."
        )
        .datasource(DATASOURCE)
        .targets([table(devices_sql, "A"), table(incidents_sql, "B")])
        .span(16)
        .height(16)
        .view(geomap.MapViewConfig().id("fit").zoom(13).all_layers(True))
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True).show_scale(True))
        .basemap(cb.MapLayerOptions().type("default").name("Basemap"))
        .layers([layer_status, layer_incidents])
        .mappings([status_map])
        .thresholds(thresholds((None, "yellow"), (2, "orange"), (3, "red"), (4, "dark-red")))
        .data_links([device_link()])
    )
    d = d.with_panel(
        ts(
            "Incidents opened by type",
            [
                series(
                    """
                    SELECT $__timeGroupAlias(i.started_at, $__interval), i.type AS metric,
                           count(*) AS incidents
                    FROM incidents i JOIN devices d ON d.id = i.device_id
                    WHERE $__timeFilter(i.started_at)
                      AND d.district IN ($district) AND d.id IN ($device)
                    GROUP BY 1, 2
                    ORDER BY 1
                    """
                )
            ],
            unit="short",
            description="How many incidents the detectors opened, by type.",
            w=8,
            h=16,
            min_interval="1h",
            bars=True,
        )
    )
    return d.with_panel(
        _incidents_table(
            ALL_KINDS,
            "Incidents in the time range",
            "Open ones first; click a row to open the device's dashboard.",
        )
    )


# --- intersections --------------------------------------------------------------------

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


def _phase_state_sql() -> str:
    def rollup(source: str) -> str:
        return f"""
            SELECT time, metric, state FROM (
                SELECT bucket AS time, device_id AS metric, state,
                       lag(state) OVER (PARTITION BY device_id ORDER BY bucket) AS previous
                FROM (
                    SELECT bucket, device_id,
                           CASE WHEN dark_readings > 0 THEN 'dark'
                                WHEN flashing_readings > 0 THEN 'flashing'
                                WHEN max_phase_elapsed > {STUCK_AFTER_S} THEN 'stuck'
                                WHEN lamp_fault_readings > 0 THEN 'lamp_fault'
                                ELSE 'cycling' END AS state
                    FROM {source}
                    WHERE $__timeFilter(bucket) AND device_id IN ($device) {GATE}
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
    )


def intersections() -> db.Dashboard:
    d = new_dashboard(
        "intersections",
        "citypulse · Intersections",
        "Signal controllers: phases, faults (lamps, cabinet doors, incidents) and phases "
        "that last too long.",
        ("traffic_light",),
    )
    d = d.annotation(_incident_annotation(("traffic_light",)))
    d = d.with_panel(
        timeline(
            "Signal phases per controller",
            table(_phase_state_sql()),
            description=f"Phases as reported, for ranges up to 1 h; longer ranges show each "
            f"minute's (or hour's) state: cycling, lamp fault, stuck (a phase over "
            f"{STUCK_AFTER_S} s), flashing yellow or dark.",
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
                    _per_device(
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
                    _per_device(
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
        _incidents_table(
            ("traffic_light",),
            "Controller faults and incidents",
            "Every incident on a controller (stuck phase, flashing, dark, lamp fault, silent).",
        ).span(12)
    )


# --- traffic flow ---------------------------------------------------------------------


def _baseline_sql(quantiles: tuple[float, float] = (0.1, 0.9), weeks: int = 4) -> str:
    lo, hi = quantiles
    return f"""
        WITH history AS (
            SELECT bucket, sum(intensity_sum) AS vehicles
            FROM camera_1h
            WHERE device_id IN ($device)
              AND bucket >= $__timeFrom()::timestamptz - interval '{weeks * 7} days'
              AND bucket < $__timeFrom()::timestamptz
            GROUP BY bucket
        ), band AS (
            SELECT extract(isodow FROM bucket AT TIME ZONE '{CITY_TZ}') AS dow,
                   extract(hour FROM bucket AT TIME ZONE '{CITY_TZ}') AS hour,
                   percentile_cont({lo}) WITHIN GROUP (ORDER BY vehicles) AS low,
                   percentile_cont({hi}) WITHIN GROUP (ORDER BY vehicles) AS high
            FROM history
            GROUP BY 1, 2
        )
        SELECT h AS time, b.low AS "baseline p{round(lo * 100)}",
               b.high AS "baseline p{round(hi * 100)}"
        FROM generate_series(date_trunc('hour', $__timeFrom()::timestamptz),
                             $__timeTo()::timestamptz, interval '1 hour') AS h
        JOIN band b ON b.dow = extract(isodow FROM h AT TIME ZONE '{CITY_TZ}')
                   AND b.hour = extract(hour FROM h AT TIME ZONE '{CITY_TZ}')
        ORDER BY 1
        """


def _total_intensity_sql() -> str:
    def branch(source: str, col: str, select: str, grain: int) -> str:
        return f"""
            SELECT $__timeGroupAlias({col}, $__interval),
                   {select} * 3600.0 / {bucket_seconds(grain)} AS "vehicles per hour"
            FROM {source}
            WHERE $__timeFilter({col}) AND device_id IN ($device) {GATE}
            GROUP BY 1
            """

    # Summing every camera's minutes of a day reads ~550,000 rows for 400 cameras: beyond
    # 6 h the hourly rollup serves, at the resolution of the hour-of-week baseline.
    return tiered(
        raw=branch("camera_readings", "time", "sum(intensity)", 60),
        minute=branch("camera_1m", "bucket", "sum(intensity_sum)", 60),
        hour=branch("camera_1h", "bucket", "sum(intensity_sum)", 3600),
        raw_max=DEVICE_RAW_MAX,
        minute_max=DEVICE_MINUTE_MAX,
    )


def traffic() -> db.Dashboard:
    d = new_dashboard(
        "traffic",
        "citypulse · Traffic flow",
        "Traffic cameras: intensity, speed and occupancy, against the usual level for the "
        "hour of the week; congestion by hour and district.",
        ("camera",),
    )
    d = d.annotation(_incident_annotation(("camera", "traffic_light")))
    d = d.with_panel(
        ts(
            "Traffic intensity vs. seasonal baseline (selected cameras)",
            [series(_total_intensity_sql(), "A"), series(_baseline_sql(), "B")],
            unit="short",
            description="Vehicles per hour counted by the selected cameras together. The band "
            "is the 10th-90th percentile of the same hour of the week over the four weeks "
            "before the range (from the 1-hour rollups).",
            w=24,
            h=9,
            min_interval="1m",
        )
        .override_by_name(
            "baseline p90",
            [
                dm.DynamicConfigValue(id_val="custom.fillBelowTo", value="baseline p10"),
                dm.DynamicConfigValue(id_val="custom.fillOpacity", value=20),
                dm.DynamicConfigValue(id_val="custom.lineWidth", value=0),
                dm.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": "blue"}
                ),
            ],
        )
        .override_by_name(
            "baseline p10",
            [
                dm.DynamicConfigValue(id_val="custom.lineWidth", value=0),
                dm.DynamicConfigValue(
                    id_val="custom.hideFrom", value={"legend": True, "tooltip": False, "viz": False}
                ),
                dm.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": "blue"}
                ),
            ],
        )
    )
    busiest = f"(the {TOP_DEVICES} busiest of the selection)"
    per_camera = (
        ("Intensity per camera", "intensity", "sum(intensity) * 3600.0 / " + bucket_seconds(60),
         "sum(intensity_sum) * 3600.0 / greatest($__interval_ms / 1000.0, {grain})", "short",
         f"Vehicles per hour, all lanes of each camera {busiest}.", "sum(intensity_sum)"),
        ("Average speed per camera", "speed", "avg(average_vehicle_speed)",
         _weighted("speed_avg"), "velocitykmh",
         f"Mean vehicle speed over the camera's lanes, the {TOP_DEVICES} slowest cameras.",
         "-avg(speed_avg)"),
        ("Occupancy per camera", "occupancy", "avg(occupancy)", _weighted("occupancy_avg"),
         "percentunit", f"Share of time the detection zones were occupied, the {TOP_DEVICES} "
         "most occupied cameras.", "max(occupancy_max)"),
    )  # fmt: skip
    for title, name, raw, rollup, unit, description, rank in per_camera:
        d = d.with_panel(
            ts(
                title,
                [
                    series(
                        _per_device("camera", f"{raw} AS {name}", f"{rollup} AS {name}", rank=rank)
                    )
                ],
                unit=unit,
                description=description,
                w=8,
                min_interval="1m",
            )
        )
    d = d.with_panel(
        heat(
            "Congestion by hour and district",
            series(
                """
                SELECT $__timeGroupAlias(c.bucket, $__interval), d.district AS metric,
                       sum(c.congested_readings)::double precision / nullif(sum(c.readings), 0)
                           AS congested
                FROM camera_1h c JOIN devices d ON d.id = c.device_id
                WHERE $__timeFilter(c.bucket) AND d.district IN ($district)
                  AND c.device_id IN ($device)
                GROUP BY 1, 2
                ORDER BY 1
                """
            ),
            description="Share of lane readings flagged congested, per hour (columns) and "
            "district (rows), from the 1-hour rollups.",
            unit="percentunit",
        )
    )
    return d.with_panel(
        grid(
            "Most congested cameras",
            """
            SELECT c.device_id, d.name AS camera, d.district, c.congested_share, c.speed_kmh,
                   c.vehicles, 'citypulse-traffic' AS dashboard
            FROM (
                SELECT device_id,
                       sum(congested_readings)::double precision / nullif(sum(readings), 0)
                           AS congested_share,
                       sum(speed_avg * readings) / nullif(sum(readings), 0) AS speed_kmh,
                       sum(intensity_sum) AS vehicles
                FROM camera_1h
                WHERE $__timeFilter(bucket) AND device_id IN ($device)
                GROUP BY device_id
                ORDER BY congested_share DESC NULLS LAST, device_id
                LIMIT 20
            ) c JOIN devices d ON d.id = c.device_id
            ORDER BY c.congested_share DESC NULLS LAST, c.device_id
            """,
            description="Cameras by the share of congested readings in the range (1-hour rollups).",
            links=[device_link()],
        )
        .override_by_name(
            "congested_share", [dm.DynamicConfigValue(id_val="unit", value="percentunit")]
        )
        .override_by_name("speed_kmh", [dm.DynamicConfigValue(id_val="unit", value="velocitykmh")])
    )


# --- parking --------------------------------------------------------------------------


def parking() -> db.Dashboard:
    d = new_dashboard(
        "parking",
        "citypulse · Parking",
        "Occupancy of every lot and of each district's lots together.",
        ("parking",),
    )
    d = d.with_panel(
        big_number(
            "Free spots now",
            """
            SELECT coalesce(sum(total_spot_number - occupied_spot_number
                                - coalesce(out_of_service_slot_number, 0)), 0) AS free
            FROM (
                SELECT DISTINCT ON (device_id) *
                FROM parking_readings
                WHERE time > now() - interval '1 hour' AND device_id IN ($device)
                ORDER BY device_id, time DESC
            ) latest
            """,
            description="Free usable spots in the selected lots, from each lot's latest reading "
            "within the last hour.",
            w=6,
            h=8,
        )
    )
    d = d.with_panel(
        ts(
            "Occupancy by district",
            [
                series(
                    tiered(
                        raw=f"""
                            SELECT $__timeGroupAlias(p.time, $__interval), d.district AS metric,
                                   sum(p.occupied_spot_number)::double precision
                                       / nullif(sum(p.total_spot_number), 0) AS occupancy
                            FROM parking_readings p JOIN devices d ON d.id = p.device_id
                            WHERE $__timeFilter(p.time) AND p.device_id IN ($device) {GATE}
                            GROUP BY 1, 2
                            """,
                        minute=None,
                        hour=f"""
                            SELECT $__timeGroupAlias(p.bucket, $__interval), d.district AS metric,
                                   sum(p.occupied_avg * p.readings)
                                       / nullif(sum(p.total_spots * p.readings), 0) AS occupancy
                            FROM parking_1h p JOIN devices d ON d.id = p.device_id
                            WHERE $__timeFilter(p.bucket) AND p.device_id IN ($device) {GATE}
                            GROUP BY 1, 2
                            """,
                    )
                )
            ],
            unit="percentunit",
            description="Occupied spots over all spots of the selected lots of each district.",
            w=18,
            h=8,
            min_interval="5m",
        )
        .min(0)
        .max(1)
    )
    d = d.with_panel(
        ts(
            "Occupancy per lot",
            [
                series(
                    _per_device(
                        "parking",
                        "avg(occupied_spot_number::double precision "
                        "/ nullif(total_spot_number, 0)) AS occupancy",
                        f"{_weighted('occupancy_avg')} AS occupancy",
                    )
                )
            ],
            unit="percentunit",
            description="Share of occupied spots of each lot.",
            w=24,
            h=9,
            min_interval="5m",
        )
        .min(0)
        .max(1)
        .thresholds(thresholds((None, "green"), (0.85, "orange"), (0.97, "red")))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
    )
    return d.with_panel(
        grid(
            "Lots now",
            """
            SELECT l.device_id, d.name AS lot, d.district, l.time AS reported,
                   l.total_spot_number AS spots, l.occupied_spot_number AS occupied,
                   coalesce(l.out_of_service_slot_number, 0) AS out_of_service,
                   l.occupied_spot_number::double precision / nullif(l.total_spot_number, 0)
                       AS occupancy,
                   'citypulse-parking' AS dashboard
            FROM (
                SELECT DISTINCT ON (device_id) *
                FROM parking_readings
                WHERE time > $__timeTo()::timestamptz - interval '1 hour'
                  AND time <= $__timeTo()::timestamptz AND device_id IN ($device)
                ORDER BY device_id, time DESC
            ) l JOIN devices d ON d.id = l.device_id
            ORDER BY occupancy DESC NULLS LAST
            """,
            description="Each lot's latest reading at the end of the range.",
            links=[device_link()],
        ).override_by_name(
            "occupancy",
            [
                dm.DynamicConfigValue(id_val="unit", value="percentunit"),
                dm.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "gauge", "mode": "basic"}
                ),
                dm.DynamicConfigValue(id_val="max", value=1),
            ],
        )
    )


# --- air quality ----------------------------------------------------------------------

_POLLUTANTS = (
    ("pm25", "PM2.5", "conμgm3"),
    ("pm10", "PM10", "conμgm3"),
    ("no2", "NO₂", "conμgm3"),
    ("so2", "SO₂", "conμgm3"),
    ("co", "CO", "conmgm3"),
    ("o3", "O₃", "conμgm3"),
)


def limits(pollutant: str) -> tuple[float, float]:
    """(maximum single, daily mean) СанПиН 1.2.3685-21 limits in the reading's unit."""
    lim = AIR_LIMITS[pollutant]
    return lim.max_single_in_unit, lim.daily_in_unit


def _rolling_mean_sql(p: str) -> str:
    return f"""
        SELECT time, metric, mean FROM (
            SELECT bucket AS time, device_id || ' · 24 h mean' AS metric,
                   sum({p}_avg * readings) OVER w / nullif(sum(readings) OVER w, 0) AS mean
            FROM ecology_1h
            WHERE device_id IN ($device)
              AND bucket > $__timeFrom()::timestamptz - interval '24 hours'
              AND bucket <= $__timeTo()::timestamptz
            WINDOW w AS (PARTITION BY device_id ORDER BY bucket
                         RANGE BETWEEN interval '23 hours' PRECEDING AND CURRENT ROW)
        ) m
        WHERE $__timeFilter(time)
        ORDER BY 1
        """


def _exceedances_sql() -> str:
    values = ",\n".join(
        f"('{label}', e.{p}_max, e.{p}_avg, {limits(p)[0]}, {limits(p)[1]})"
        for p, label, _ in _POLLUTANTS
    )
    return f"""
        WITH hourly AS (
            SELECT e.device_id, e.bucket, e.readings, v.*
            FROM ecology_1h e
            CROSS JOIN LATERAL (VALUES {values}) AS v(pollutant, peak, mean, max_single, daily)
            WHERE $__timeFilter(e.bucket) AND e.device_id IN ($device)
        ), daily AS (
            SELECT device_id, pollutant, date_trunc('day', bucket AT TIME ZONE '{CITY_TZ}') AS day,
                   sum(mean * readings) / nullif(sum(readings), 0) > max(daily) AS over
            FROM hourly
            GROUP BY 1, 2, 3
        )
        SELECT h.device_id, d.name AS station, h.pollutant, max(h.peak) AS peak,
               max(h.max_single) AS max_single_limit,
               count(*) FILTER (WHERE h.peak > h.max_single) AS hours_over_max_single,
               (SELECT count(*) FROM daily x WHERE x.device_id = h.device_id
                  AND x.pollutant = h.pollutant AND x.over) AS days_over_daily_mean,
               'citypulse-air' AS dashboard
        FROM hourly h JOIN devices d ON d.id = h.device_id
        GROUP BY h.device_id, d.name, h.pollutant
        HAVING count(*) FILTER (WHERE h.peak > h.max_single) > 0
            OR (SELECT count(*) FROM daily x WHERE x.device_id = h.device_id
                  AND x.pollutant = h.pollutant AND x.over) > 0
        ORDER BY hours_over_max_single DESC, days_over_daily_mean DESC
        """


def air() -> db.Dashboard:
    d = new_dashboard(
        "air",
        "citypulse · Air quality",
        "Pollutants at the ecology stations against the СанПиН 1.2.3685-21 limits (maximum "
        "single and daily mean), 24-hour rolling means, and exceedances.",
        ("ecology",),
    )
    d = d.annotation(_incident_annotation(("ecology",)))
    for p, label, unit in _POLLUTANTS:
        max_single, daily = limits(p)
        d = d.with_panel(
            ts(
                label,
                [
                    series(_per_device("ecology", None, f"{_weighted(p + '_avg')} AS {p}"), "A"),
                    series(_rolling_mean_sql(p), "B"),
                ],
                unit=unit,
                description=f"{label} per station and its 24-hour rolling mean. Lines: the "
                f"daily-mean limit {daily:g} and the maximum single limit {max_single:g} "
                f"({'mg/m³' if unit == 'conmgm3' else 'µg/m³'}), СанПиН 1.2.3685-21.",
                w=8,
                min_interval="20m",
            )
            .thresholds(thresholds((None, "green"), (daily, "orange"), (max_single, "red")))
            .thresholds_style(
                cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)
            )
            .override_by_regexp(
                ".*24 h mean",
                [
                    dm.DynamicConfigValue(
                        id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}
                    )
                ],
            )
        )
    d = d.with_panel(
        grid(
            "Exceedances in the range",
            _exceedances_sql(),
            description="Per station and pollutant: hours whose maximum exceeded the maximum "
            "single limit and (local) days whose mean exceeded the daily limit.",
            w=12,
            links=[device_link()],
        )
    )
    return d.with_panel(
        _incidents_table(
            ("ecology",),
            "Air-quality incidents",
            "Incidents the detectors opened on the stations (exceedances, drift, silence).",
        ).span(12)
    )
