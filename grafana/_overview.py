"""The city overview dashboard: every device on the map and the counts the center watches."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from grafana._devices import incidents_table
from grafana._panels import (
    ALL_KINDS,
    NOT_DONE,
    big_number,
    dashboard_of_kind,
    device_link,
    new_dashboard,
    open_incidents,
    silent_sql,
    thresholds,
    ts,
)
from grafana._query import DATASOURCE, series, table


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


def overview(zone: str) -> db.Dashboard:
    d = new_dashboard(
        zone,
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
        incidents_table(
            ALL_KINDS,
            "Incidents in the time range",
            "Open ones first; click a row to open the device's dashboard.",
        )
    )
