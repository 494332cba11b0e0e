"""The air quality dashboard: pollutants against the СанПиН 1.2.3685-21 limits.

The limits are the kernel's :data:`citypulse.AIR_LIMITS`; each pollutant's panel also
draws the rolling mean its ПДК с.с. is judged on (24 hours; 8 for ozone, as СанПиН
1.2.3685-21 marks it «8 час.»), and a table lists the exceedances.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from citypulse import AIR_LIMITS
from grafana._devices import (
    TOP_DEVICES,
    incident_annotation,
    incidents_table,
    per_device,
    top,
    weighted,
)
from grafana._panels import device_link, grid, new_dashboard, thresholds, ts
from grafana._query import series

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


def _mean_hours(p: str) -> int:
    """The averaging period of the pollutant's ПДК с.с.: 24 h, but 8 h for ozone."""
    return round(AIR_LIMITS[p].daily_averaging_s / 3600)


def _rank(p: str) -> str:
    """SQL: what chooses the stations a pollutant's panel draws: the highest peaks."""
    return f"max({p}_max)"


def _rolling_mean_sql(p: str) -> str:
    hours = _mean_hours(p)
    return f"""
        SELECT time, metric, mean FROM (
            SELECT bucket AS time, device_id || ' · {hours} h mean' AS metric,
                   sum({p}_avg * readings) OVER w / nullif(sum(readings) OVER w, 0) AS mean
            FROM ecology_1h
            WHERE bucket > $__timeFrom()::timestamptz - interval '{hours} hours'
              AND bucket <= $__timeTo()::timestamptz
              {top("ecology", _rank(p))}
            WINDOW w AS (PARTITION BY device_id ORDER BY bucket
                         RANGE BETWEEN interval '{hours - 1} hours' PRECEDING AND CURRENT ROW)
        ) m
        WHERE $__timeFilter(time)
        ORDER BY 1
        """


def _exceedances_sql(zone: str) -> str:
    """Hours over the maximum single limit and days (in the region's ``zone``) over the
    daily one."""
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
            SELECT device_id, pollutant, date_trunc('day', bucket AT TIME ZONE '{zone}') AS day,
                   sum(mean * readings) / nullif(sum(readings), 0) > max(daily) AS over
            FROM hourly
            GROUP BY 1, 2, 3
        ), days_over AS (
            -- one row per station and pollutant, joined (a subquery per group scanned
            -- every day of every station: seconds for 500 stations)
            SELECT device_id, pollutant, count(*) FILTER (WHERE over) AS days
            FROM daily
            GROUP BY 1, 2
        )
        SELECT h.device_id, d.name AS station, h.pollutant, max(h.peak) AS peak,
               max(h.max_single) AS max_single_limit,
               count(*) FILTER (WHERE h.peak > h.max_single) AS hours_over_max_single,
               coalesce(max(o.days), 0) AS days_over_daily_mean,
               'citypulse-air' AS dashboard
        FROM hourly h JOIN devices d ON d.id = h.device_id
        LEFT JOIN days_over o ON o.device_id = h.device_id AND o.pollutant = h.pollutant
        GROUP BY h.device_id, d.name, h.pollutant
        HAVING count(*) FILTER (WHERE h.peak > h.max_single) > 0 OR coalesce(max(o.days), 0) > 0
        ORDER BY hours_over_max_single DESC, days_over_daily_mean DESC
        """


def air(zone: str) -> db.Dashboard:
    d = new_dashboard(
        zone,
        "air",
        "citypulse · Air quality",
        "Pollutants at the ecology stations against the СанПиН 1.2.3685-21 limits (maximum "
        "single and daily mean), 24-hour rolling means, and exceedances.",
        ("ecology",),
    )
    d = d.annotation(incident_annotation(("ecology",)))
    for p, label, unit in _POLLUTANTS:
        max_single, daily = limits(p)
        d = d.with_panel(
            ts(
                label,
                [
                    series(
                        per_device(
                            "ecology", None, f"{weighted(p + '_avg')} AS {p}", rank=_rank(p)
                        ),
                        "A",
                    ),
                    series(_rolling_mean_sql(p), "B"),
                ],
                unit=unit,
                description=f"{label} at the {TOP_DEVICES} stations of the selection with "
                f"the highest peaks in the range, and their {_mean_hours(p)}-hour rolling mean. "
                f"Lines: the {_mean_hours(p)}-hour mean limit (ПДК с.с.) {daily:g} and the "
                f"maximum single limit {max_single:g} "
                f"({'mg/m³' if unit == 'conmgm3' else 'µg/m³'}), СанПиН 1.2.3685-21.",
                w=8,
                min_interval="20m",
            )
            .thresholds(thresholds((None, "green"), (daily, "orange"), (max_single, "red")))
            .thresholds_style(
                cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)
            )
            .override_by_regexp(
                r".* \d+ h mean",
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
            _exceedances_sql(zone),
            description="Per station and pollutant: hours whose maximum exceeded the maximum "
            "single limit and (local) days whose mean exceeded the daily limit.",
            w=12,
            links=[device_link()],
        )
    )
    return d.with_panel(
        incidents_table(
            ("ecology",),
            "Air-quality incidents",
            "Incidents the detectors opened on the stations (exceedances, drift, silence).",
        ).span(12)
    )
