"""Pieces every citypulse dashboard shares: uids, variables, links, panel shorthands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import (
    heatmap,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import heatmap as hm

from grafana._query import DATASOURCE, Sql
from grafana._query import table as table_query

UIDS: Mapping[str, str] = {
    "overview": "citypulse-overview",
    "intersections": "citypulse-intersections",
    "traffic": "citypulse-traffic",
    "parking": "citypulse-parking",
    "air": "citypulse-air",
    "appeals": "citypulse-appeals",
    "ingest": "citypulse-ingest",
    "tension": "citypulse-tension",
}
#: The dashboard that shows a device of each kind (evidence links point there).
KIND_DASHBOARD: Mapping[str, str] = {
    "traffic_light": UIDS["intersections"],
    "camera": UIDS["traffic"],
    "parking": UIDS["parking"],
    "ecology": UIDS["air"],
}
TAG = "citypulse"
ALL_KINDS = ("traffic_light", "camera", "parking", "ecology")
#: SQL: the appeal statuses that end an appeal (``status NOT IN`` it: still open).
NOT_DONE = "('resolved', 'closed', 'rejected')"

Query = cogbuilder.Builder[cogvariants.Dataquery]


def dashboard_of_kind(column: str) -> str:
    """SQL: the uid of the dashboard showing a device whose kind is in ``column``."""
    whens = " ".join(f"WHEN '{k}' THEN '{uid}'" for k, uid in KIND_DASHBOARD.items())
    return f"CASE {column} {whens} ELSE '{UIDS['overview']}' END"


def kinds_sql(kinds: Sequence[str]) -> str:
    """SQL: ``kinds`` as a list of literals, for ``kind IN (...)``."""
    return ", ".join(f"'{k}'" for k in kinds)


def query_variable(
    name: str, label: str, description: str, sql: str, *, sort: bool = True
) -> db.QueryVariable:
    """A multi-value variable read from the database, All by default."""
    v = (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DATASOURCE)
        .query(sql)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
    )
    if sort:
        v = v.sort(dm.VariableSort.ALPHABETICAL_ASC)
    return (
        v.multi(True)
        .include_all(True)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


def variables(kinds: Sequence[str]) -> list[db.QueryVariable]:
    """``district`` and ``device`` (devices of ``kinds`` in the chosen districts)."""
    district = query_variable(
        "district",
        "District",
        "Districts of the devices shown",
        "SELECT DISTINCT district FROM devices WHERE district <> '' ORDER BY 1",
    )
    device = query_variable(
        "device",
        "Device",
        "Devices shown (their name is the text, their id the value)",
        "SELECT id AS __value, CASE WHEN name = '' THEN id ELSE name || ' (' || id || ')' END "
        f"AS __text FROM devices WHERE kind IN ({kinds_sql(kinds)}) "
        "AND district IN ($district) ORDER BY id",
        sort=False,
    )
    return [district, device]


def new_dashboard(
    zone: str, key: str, title: str, description: str, kinds: Sequence[str]
) -> db.Dashboard:
    """A dashboard with the shared variables, links, time settings and tags; times show
    in ``zone`` (IANA), the region's."""
    return (
        db.Dashboard(title)
        .uid(UIDS[key])
        .description(description)
        .tags([TAG])
        .time("now-24h", "now")
        .timezone(zone)
        .refresh("1m")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .editable()
        .timepicker(db.TimePicker().refresh_intervals(["30s", "1m", "5m", "15m", "1h"]))
        .variables(list(variables(kinds)))
        .links(
            [
                db.DashboardLink("citypulse")
                .type(dm.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .keep_time(True)
                .include_vars(True)
                .tooltip("Other citypulse dashboards, same time range and variables")
            ]
        )
    )


def device_link(title: str = "Open the device's dashboard") -> db.DashboardLink:
    """A data link from a row with ``device_id`` and ``dashboard`` columns to that dashboard."""
    return (
        db.DashboardLink(title)
        .type(dm.DashboardLinkType.LINK)
        .url(
            "/d/${__data.fields.dashboard}?var-device=${__data.fields.device_id}&${__url_time_range}"
        )
    )


P = TypeVar("P", timeseries.Panel, stat.Panel, table.Panel, statetimeline.Panel, heatmap.Panel)


def _base(panel: P, title: str, description: str, queries: Sequence[Query], w: int, h: int) -> P:
    """What every panel sets: title, description, data source, queries, size."""
    return (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(queries))
        .span(w)
        .height(h)
    )


#: SQL condition on ``devices d``: nothing for this many reporting intervals.
SILENT_AFTER_INTERVALS = 3


def silent_sql(*, or_offline: bool) -> str:
    """SQL: device ``d`` is silent (and, with ``or_offline``, or reported offline)."""
    cond = (
        f"d.last_seen IS NULL OR d.last_seen < now() - make_interval(secs => "
        f"{SILENT_AFTER_INTERVALS} * d.report_interval)"
    )
    return f"({cond}{' OR d.online IS false' if or_offline else ''})"


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    """Absolute thresholds: ``(None, "green"), (100, "red")``."""
    return _thresholds(steps)


def _legend() -> cb.VizLegendOptions:
    return (
        cb.VizLegendOptions()
        .display_mode(cm.LegendDisplayMode.LIST)
        .placement(cm.LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def _tooltip() -> cb.VizTooltipOptions:
    return cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)


def ts(
    title: str,
    queries: Sequence[Query],
    *,
    unit: str,
    description: str,
    w: int = 12,
    h: int = 8,
    min_interval: str | None = None,
    bars: bool = False,
) -> timeseries.Panel:
    """A time-series panel."""
    p = (
        _base(timeseries.Panel(), title, description, queries, w, h)
        .unit(unit)
        .legend(_legend())
        .tooltip(_tooltip())
        .span_nulls(False)
    )
    if min_interval:
        p = p.interval(min_interval)
    if bars:
        p = p.draw_style(cm.GraphDrawStyle.BARS).fill_opacity(60).line_width(1)
    else:
        p = p.line_width(1).fill_opacity(0)
    return p


def big_number(
    title: str,
    sql: str,
    *,
    description: str,
    unit: str = "none",
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
    w: int = 6,
    h: int = 4,
) -> stat.Panel:
    """A stat panel over a query returning one row of one number."""
    return (
        _base(stat.Panel(), title, description, [table_query(sql)], w, h)
        .unit(unit)
        .thresholds(_thresholds(steps))
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def grid(
    title: str,
    sql: str,
    *,
    description: str,
    w: int = 24,
    h: int = 9,
    links: Sequence[db.DashboardLink] = (),
) -> table.Panel:
    """A table panel."""
    p = _base(table.Panel(), title, description, [table_query(sql)], w, h).filterable(True)
    if links:
        p = p.data_links(list(links))
    return p


def timeline(
    title: str,
    query: Sql,
    *,
    description: str,
    partition_by: str,
    mappings: Mapping[str, str],
    w: int = 24,
    h: int = 10,
) -> statetimeline.Panel:
    """A state timeline of a (time, ``partition_by``, state) table, one row per partition."""
    value_map = dm.ValueMap(
        options={
            state: dm.ValueMappingResult(color=color, index=i)
            for i, (state, color) in enumerate(mappings.items())
        }
    )
    return (
        _base(statetimeline.Panel(), title, description, [query], w, h)
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="partitionByValues",
                options={
                    "fields": [partition_by],
                    "keepFields": False,
                    "naming": {"asLabels": True},
                },
            )
        )
        .mappings([value_map])
        .show_value(cm.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.8)
        .legend(_legend())
    )


def heat(
    title: str,
    query: Sql,
    *,
    description: str,
    unit: str,
    w: int = 24,
    h: int = 9,
    min_interval: str = "1h",
) -> heatmap.Panel:
    """A heatmap whose rows are the query's series (no bucketing by Grafana)."""
    return (
        _base(heatmap.Panel(), title, description, [query], w, h)
        .interval(min_interval)
        .calculate(False)
        .color(
            heatmap.HeatmapColorOptions()
            .mode(hm.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .fill("dark-orange")
            .exponent(0.5)
            .steps(64)
            .reverse(False)
        )
        .y_axis(heatmap.YAxisConfig().unit("none"))
        .cell_values(heatmap.CellValues().unit(unit))
        .show_value(cm.VisibilityMode.NEVER)
    )


def open_incidents(description: str) -> stat.Panel:
    """Stat: incidents not resolved yet on the chosen devices."""
    return big_number(
        "Open incidents",
        "SELECT count(*) AS open FROM incidents i JOIN devices d ON d.id = i.device_id "
        "WHERE i.status = 'open' AND d.district IN ($district) AND d.id IN ($device)",
        description=description,
        steps=((None, "green"), (1, "orange"), (10, "red")),
    )


def annotation(name: str, sql: str, color: str = "red") -> db.AnnotationQuery:
    """A dashboard annotation from an SQL query (columns time, timeend, text, tags)."""
    return (
        db.AnnotationQuery()
        .name(name)
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color(color)
        .target(table_query(sql, ref_id="Anno"))
    )
