"""The traffic flow dashboard: camera intensity against the hour-of-week baseline, congestion."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from grafana._devices import (
    DEVICE_MINUTE_MAX,
    TOP_DEVICES,
    incident_annotation,
    per_device,
    weighted,
)
from grafana._panels import device_link, grid, heat, new_dashboard, ts
from grafana._query import GATE, bucket_seconds, series, tiered


def _baseline_sql(zone: str, quantiles: tuple[float, float] = (0.1, 0.9), weeks: int = 4) -> str:
    """The hour-of-week band of the past weeks, hours and weekdays in the region's ``zone``."""
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
            SELECT extract(isodow FROM bucket AT TIME ZONE '{zone}') AS dow,
                   extract(hour FROM bucket AT TIME ZONE '{zone}') AS hour,
                   percentile_cont({lo}) WITHIN GROUP (ORDER BY vehicles) AS low,
                   percentile_cont({hi}) WITHIN GROUP (ORDER BY vehicles) AS high
            FROM history
            GROUP BY 1, 2
        )
        SELECT h AS time, b.low AS "baseline p{round(lo * 100)}",
               b.high AS "baseline p{round(hi * 100)}"
        FROM generate_series(date_trunc('hour', $__timeFrom()::timestamptz),
                             $__timeTo()::timestamptz, interval '1 hour') AS h
        JOIN band b ON b.dow = extract(isodow FROM h AT TIME ZONE '{zone}')
                   AND b.hour = extract(hour FROM h AT TIME ZONE '{zone}')
        ORDER BY 1
        """


def _total_intensity_sql() -> str:
    def branch(source: str, col: str, select: str, grain: int) -> str:
        # Summed per bucket first, then per panel bucket: the macro's numeric arithmetic
        # runs once a bucket instead of once a camera's bucket (3 times faster for 4,000).
        return f"""
            SELECT $__timeGroupAlias({col}, $__interval),
                   sum(vehicles) * 3600.0 / {bucket_seconds(grain)} AS "vehicles per hour"
            FROM (
                SELECT {col}, {select} AS vehicles
                FROM {source}
                WHERE $__timeFilter({col}) AND device_id IN ($device) {GATE}
                GROUP BY 1
            ) b
            GROUP BY 1
            """

    # Summing every camera's minutes of a day reads ~550,000 rows for 400 cameras: beyond
    # 6 h the hourly rollup serves, at the resolution of the hour-of-week baseline.  Up to
    # 6 h the 1-minute rollup serves, however short the range: the panel's buckets are a
    # minute at least, whose sums the rollup holds (raw readings of 4,000 cameras' hour
    # are 11 million rows).
    return tiered(
        raw=None,
        minute=branch("camera_1m", "bucket", "sum(intensity_sum)", 60),
        hour=branch("camera_1h", "bucket", "sum(intensity_sum)", 3600),
        minute_max=DEVICE_MINUTE_MAX,
    )


def traffic(zone: str) -> db.Dashboard:
    d = new_dashboard(
        zone,
        "traffic",
        "citypulse · Traffic flow",
        "Traffic cameras: intensity, speed and occupancy, against the usual level for the "
        "hour of the week; congestion by hour and district.",
        ("camera",),
    )
    d = d.annotation(incident_annotation(("camera", "traffic_light")))
    d = d.with_panel(
        ts(
            "Traffic intensity vs. seasonal baseline (selected cameras)",
            [series(_total_intensity_sql(), "A"), series(_baseline_sql(zone), "B")],
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
         weighted("speed_avg"), "velocitykmh",
         f"Mean vehicle speed over the camera's lanes, the {TOP_DEVICES} slowest cameras.",
         "-avg(speed_avg)"),
        ("Occupancy per camera", "occupancy", "avg(occupancy)", weighted("occupancy_avg"),
         "percentunit", f"Share of time the detection zones were occupied, the {TOP_DEVICES} "
         "most occupied cameras.", "max(occupancy_max)"),
    )  # fmt: skip
    for title, name, raw, rollup, unit, description, rank in per_camera:
        d = d.with_panel(
            ts(
                title,
                [
                    series(
                        per_device("camera", f"{raw} AS {name}", f"{rollup} AS {name}", rank=rank)
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
