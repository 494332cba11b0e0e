"""The parking dashboard: occupancy of every lot and of each district's lots together."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from grafana._devices import TOP_DEVICES, per_device, weighted
from grafana._panels import big_number, device_link, grid, new_dashboard, thresholds, ts
from grafana._query import GATE, series, tiered


def parking(zone: str) -> db.Dashboard:
    d = new_dashboard(
        zone,
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
            FROM devices d CROSS JOIN LATERAL (
                SELECT * FROM parking_readings r
                WHERE r.device_id = d.id AND r.time > now() - interval '1 hour'
                ORDER BY r.time DESC
                LIMIT 1
            ) latest
            WHERE d.id IN ($device)
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
            "Occupancy of the fullest lots",
            [
                series(
                    per_device(
                        "parking",
                        "avg(occupied_spot_number::double precision "
                        "/ nullif(total_spot_number, 0)) AS occupancy",
                        f"{weighted('occupancy_avg')} AS occupancy",
                        rank="max(occupancy_avg)",
                    )
                )
            ],
            unit="percentunit",
            description=f"Share of occupied spots of each lot, the {TOP_DEVICES} of the "
            "selection that were fullest in any hour of the range (the table below lists "
            "every lot).",
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
            FROM devices d CROSS JOIN LATERAL (
                SELECT * FROM parking_readings r
                WHERE r.device_id = d.id
                  AND r.time > $__timeTo()::timestamptz - interval '1 hour'
                  AND r.time <= $__timeTo()::timestamptz
                ORDER BY r.time DESC
                LIMIT 1
            ) l
            WHERE d.id IN ($device)
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
