"""A static HTML report of a period, for people without Grafana.

One self-contained file (inline CSS and SVG, no JavaScript, nothing fetched): the city's
traffic over time (total and per district), air quality against the СанПиН 1.2.3685-21
limits, and the period's incidents on a map and in a table with their appeals' texts.
Times are shown in the time zone of ``start``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from html import escape
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from citypulse import AIR_LIMITS, Device
from citypulse.db import READING_TABLES, load_devices
from citypulse.render import (
    PALETTE,
    Area,
    Chart,
    MapKey,
    MapPoint,
    Series,
    Threshold,
    crossings_of,
    device_map,
    legend,
    line_chart,
    streets_through,
)

#: Pollutants shown, with their display names; limits come from the kernel's table.
POLLUTANTS = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO₂"}
KIND_STYLE = {  # shape, colour, name
    "traffic_light": ("circle", "#475569", "traffic light"),
    "camera": ("square", "#2563eb", "camera"),
    "parking": ("diamond", "#7c3aed", "parking lot"),
    "ecology": ("triangle", "#059669", "ecology station"),
}
PLURAL = {"traffic_light": "traffic lights", "camera": "cameras", "parking": "parking lots",
          "ecology": "ecology stations"}  # fmt: skip
SEVERITY = {1: "low", 2: "medium", 3: "high", 4: "critical"}

_DEVICES = "SELECT id, kind, name, district, address, lat, lon FROM devices ORDER BY id"
_TRAFFIC = """
SELECT date_bin(%(step)s, c.time, %(start)s) AS bucket, d.district,
       sum(c.intensity) AS vehicles,
       sum(c.average_vehicle_speed * c.intensity) AS speed_weighted,
       sum(c.intensity) FILTER (WHERE c.average_vehicle_speed IS NOT NULL) AS speed_weight
FROM camera_readings c JOIN devices d ON d.id = c.device_id
WHERE c.time >= %(start)s AND c.time < %(end)s
GROUP BY 1, 2 ORDER BY 1, 2
"""
_AIR = """
SELECT time, device_id, pm25, pm10, no2 FROM ecology_readings
WHERE time >= %(start)s AND time < %(end)s ORDER BY time
"""
_COUNT = "SELECT count(*) FROM {} WHERE time >= %(start)s AND time < %(end)s"
_INCIDENTS = """
SELECT i.id, i.type, i.device_id, i.severity, i.status, i.started_at, i.resolved_at,
       i.value, i.limit_value, i.unit, a.id, a.title, a.status, a.agency
FROM incidents i LEFT JOIN appeals a ON a.incident_id = i.id
WHERE i.started_at < %(end)s AND coalesce(i.resolved_at, 'infinity') >= %(start)s
ORDER BY i.started_at, i.id
"""
# Citizens' contact details are personal data: never selected here.
_CITIZEN_APPEALS = """
SELECT id, title, district, address, status, requested_at, lat, lon FROM appeals
WHERE source = 'citizen' AND requested_at >= %(start)s AND requested_at < %(end)s
ORDER BY requested_at, id
"""


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """What the written report shows, for the caller's own summary."""

    path: Path
    devices: int
    readings: int
    incidents: int
    appeals: int


def write_report(
    conn: psycopg.Connection[Any], path: str | Path, *, start: datetime, end: datetime
) -> ReportSummary:
    """Write the report of ``[start, end)`` to ``path`` (read-only queries on ``conn``)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must carry a UTC offset")
    if end <= start:
        raise ValueError("end must be after start")
    tz = start.tzinfo
    params = {"start": start, "end": end}
    devices = {row[0]: row for row in conn.execute(_DEVICES)}
    readings = 0
    for table in READING_TABLES.values():
        row = conn.execute(sql.SQL(_COUNT).format(sql.Identifier(table)), params).fetchone()
        readings += int(row[0]) if row else 0
    incidents = conn.execute(_INCIDENTS, params).fetchall()
    citizen = conn.execute(_CITIZEN_APPEALS, params).fetchall()
    chart = Chart(start=start, end=end, tz=tz)
    body = [
        _header(start, end, tz, devices, readings, incidents, citizen),
        _traffic(conn, chart, params),
        _air(conn, chart, params, devices),
        _incidents(incidents, citizen, devices, load_devices(conn).values(), tz),
    ]
    html = _PAGE.format(
        title=escape(f"citypulse report {start.astimezone(tz):%d.%m.%Y}"),
        css=_CSS,
        body="\n".join(body),
        generated=escape(f"{datetime.now(UTC).astimezone(tz):%d.%m.%Y %H:%M %Z}"),
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    appeals = sum(1 for i in incidents if i[10] is not None) + len(citizen)
    return ReportSummary(out, len(devices), readings, len(incidents), appeals)


def _header(
    start: datetime,
    end: datetime,
    tz: tzinfo,
    devices: dict[str, tuple[Any, ...]],
    readings: int,
    incidents: list[tuple[Any, ...]],
    citizen: list[tuple[Any, ...]],
) -> str:
    kinds: dict[str, int] = defaultdict(int)
    for d in devices.values():
        kinds[d[1]] += 1
    resolved = sum(1 for i in incidents if i[4] != "open")
    appeals = sum(1 for i in incidents if i[10] is not None)
    kinds_text = ", ".join(
        f"{n} {KIND_STYLE[k][2] if n == 1 else PLURAL.get(k, k)}" for k, n in sorted(kinds.items())
    )
    open_ = len(incidents) - resolved
    cards = [
        ("devices", f"{len(devices)}", kinds_text),
        ("readings stored", _thousands(readings), "in the period"),
        ("incidents", f"{len(incidents)}", f"{resolved} resolved, {open_} open"),
        ("appeals", f"{appeals + len(citizen)}",
         f"{appeals} from sensors, {len(citizen)} from citizens"),
    ]  # fmt: skip
    period = f"{start.astimezone(tz):%d.%m.%Y %H:%M} – {end.astimezone(tz):%d.%m.%Y %H:%M}"
    return (
        f'<header><h1>citypulse</h1><p class="period">{escape(period)} '
        f'<span class="muted">({escape(str(start.astimezone(tz).tzname()))})</span></p></header>'
        '<section class="cards">'
        + "".join(
            f'<div class="card"><div class="label">{escape(a)}</div>'
            f'<div class="value">{escape(b)}</div><div class="muted">{escape(c)}</div></div>'
            for a, b, c in cards
        )
        + "</section>"
    )


def _traffic(conn: psycopg.Connection[Any], chart: Chart, params: dict[str, Any]) -> str:
    step = (
        timedelta(minutes=15)
        if chart.end - chart.start <= timedelta(days=2)
        else timedelta(hours=1)
    )
    rows = conn.execute(_TRAFFIC, {**params, "step": step}).fetchall()
    per_hour = timedelta(hours=1) / step
    by_district: dict[str, dict[datetime, tuple[float, float, float]]] = defaultdict(dict)
    total: dict[datetime, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for bucket, district, vehicles, weighted, weight in rows:
        v, sw, w = float(vehicles or 0), float(weighted or 0), float(weight or 0)
        by_district[district or "—"][bucket] = (v, sw, w)
        acc = total[bucket]
        acc[0], acc[1], acc[2] = acc[0] + v, acc[1] + sw, acc[2] + w
    if not rows:
        return _empty("Traffic", "No camera readings in the period.")
    buckets = sorted(total)
    city_flow = Series("city", [(b, total[b][0] * per_hour) for b in buckets], "#111827", 2.4)
    city_speed = Series(
        "city", [(b, total[b][1] / total[b][2] if total[b][2] else None) for b in buckets],
        "#111827", 2.4,
    )  # fmt: skip
    flows, speeds = [], []
    for i, (district, series) in enumerate(sorted(by_district.items())):
        color = PALETTE[i % len(PALETTE)]
        pts = sorted(series.items())
        flows.append(Series(district, [(b, v * per_hour) for b, (v, _, _) in pts], color, 1.4))
        speeds.append(
            Series(district, [(b, sw / w if w else None) for b, (_, sw, w) in pts], color, 1.4)
        )
    peak_bucket = max(buckets, key=lambda b: total[b][0])
    peak = total[peak_bucket][0] * per_hour
    slowest = min((b for b in buckets if total[b][2]), key=lambda b: total[b][1] / total[b][2])
    tz = chart.tz
    facts = (
        f"Peak flow {_thousands(peak)} vehicles/h at {peak_bucket.astimezone(tz):%H:%M}; "
        f"slowest average speed {total[slowest][1] / total[slowest][2]:.0f} km/h at "
        f"{slowest.astimezone(tz):%H:%M} (all cameras, {int(step.total_seconds() // 60)}-minute "
        "buckets)."
    )
    return (
        "<section><h2>Traffic</h2>"
        f'<p class="muted">{escape(facts)}</p>'
        "<h3>Flow, vehicles per hour (city total and per district)</h3>"
        + line_chart(chart, [city_flow], unit="veh/h")
        + line_chart(chart, flows, unit="veh/h")
        + legend([city_flow, *flows])
        + "<h3>Average speed, km/h (weighted by flow)</h3>"
        + line_chart(chart, [city_speed, *speeds], unit="km/h", y_min=None)
        + legend([city_speed, *speeds])
        + "</section>"
    )


def limit_lines(pollutant: str) -> tuple[Threshold, Threshold]:
    """The ПДК м.р. (dashed) and ПДК с.с. (dotted) lines of a pollutant's chart."""
    limit = AIR_LIMITS[pollutant]
    single, daily = limit.max_single_in_unit, limit.daily_in_unit
    return (
        Threshold(single, f"ПДК м.р. {single:g}"),
        Threshold(daily, f"ПДК с.с. {daily:g}", "#9f1239", dashed=False),
    )


def _air(
    conn: psycopg.Connection[Any],
    chart: Chart,
    params: dict[str, Any],
    devices: dict[str, tuple[Any, ...]],
) -> str:
    rows = conn.execute(_AIR, params).fetchall()
    if not rows:
        return _empty("Air quality", "No ecology readings in the period.")
    stations = sorted({r[1] for r in rows})
    parts = [
        "<section><h2>Air quality against СанПиН 1.2.3685-21</h2>",
        '<p class="muted">Each station\'s 20-minute readings against the maximum single '
        "limit (ПДК м.р., dashed) and the daily average limit (ПДК с.с., dotted), µg/m³.</p>",
    ]
    table = []
    for column, (pollutant, name) in enumerate(POLLUTANTS.items(), start=2):
        lines = limit_lines(pollutant)
        single, daily = lines[0].value, lines[1].value
        series = []
        for i, station in enumerate(stations):
            pts = [(r[0], r[column]) for r in rows if r[1] == station]
            series.append(Series(_device_name(devices, station), pts, PALETTE[i % len(PALETTE)]))
            values = [v for _, v in pts if v is not None]
            if values:
                worst_t, worst = max(((t, v) for t, v in pts if v is not None), key=lambda p: p[1])
                over = sum(1 for v in values if v > single)
                mean = sum(values) / len(values)
                table.append((name, station, worst, worst_t, worst / single, over, mean, daily))
        parts.append(f"<h3>{escape(name)}</h3>")
        parts.append(line_chart(chart, series, unit="µg/m³", thresholds=lines))
        parts.append(legend([*series, *lines]))
    parts.append(
        "<table><thead><tr><th>pollutant</th><th>station</th><th>max</th><th>at</th>"
        "<th>of ПДК м.р.</th><th>readings over ПДК м.р.</th><th>period mean</th>"
        "<th>ПДК с.с.</th></tr></thead><tbody>"
    )
    for name, station, worst, worst_t, share, over, mean, daily in table:
        cls = ' class="bad"' if share > 1 else ""
        mean_cls = ' class="warn"' if mean > daily else ""
        parts.append(
            f"<tr><td>{escape(name)}</td><td>{escape(_device_name(devices, station))}</td>"
            f"<td{cls}>{worst:.1f}</td><td>{worst_t.astimezone(chart.tz):%H:%M}</td>"
            f"<td{cls}>{share:.0%}</td><td{cls}>{over}</td>"
            f"<td{mean_cls}>{mean:.1f}</td><td>{daily:g}</td></tr>"
        )
    parts.append("</tbody></table></section>")
    return "".join(parts)


def _incidents(
    incidents: list[tuple[Any, ...]],
    citizen: list[tuple[Any, ...]],
    devices: dict[str, tuple[Any, ...]],
    located: Iterable[Device],
    tz: tzinfo,
) -> str:
    numbers = {row[0]: n for n, row in enumerate(incidents, start=1)}
    points = []
    for device_id, d in devices.items():
        if d[5] is None or d[6] is None:
            continue
        shape, color, kind = KIND_STYLE.get(d[1], ("circle", "#64748b", d[1]))
        points.append(MapPoint(d[5], d[6], f"{d[2] or device_id} ({kind}, {d[3]})", shape, color))
    for a in citizen:
        if a[6] is not None and a[7] is not None:
            title = f"citizen appeal #{a[0]}: {a[1]}"
            points.append(MapPoint(a[6], a[7], title, "diamond", "#f59e0b", 4.0))
    for row in incidents:  # a numbered badge by its device; the map keeps them apart
        at = devices.get(row[2])
        if at is not None and at[5] is not None and at[6] is not None:
            n = str(numbers[row[0]])
            points.append(MapPoint(at[5], at[6], f"incident {n}", "circle", "#dc2626", 8.0, n))
    keys = [MapKey(name, shape, color) for shape, color, name in KIND_STYLE.values()]
    keys.append(MapKey("incident (its number)", "circle", "#dc2626"))
    if citizen:
        keys.append(MapKey("citizen appeal", "diamond", "#f59e0b"))
    keys += [
        MapKey("street", "street"),
        MapKey("district", "area"),
        MapKey("moved marker", "leader"),
    ]
    parts = [
        "<section><h2>Incidents</h2>",
        device_map(
            points,
            streets=streets_through(crossings_of(located)),
            areas=_districts(devices),
            keys=keys,
            locale="en",
        ),
    ]
    if not incidents:
        parts.append('<p class="muted">No incidents in the period.</p>')
    else:
        parts.append(
            "<table><thead><tr><th>#</th><th>incident</th><th>device</th><th>where</th>"
            "<th>from</th><th>to</th><th>severity</th><th>value</th><th>appeal</th></tr>"
            "</thead><tbody>"
        )
        for row in incidents:
            (iid, itype, device_id, severity, status, started, resolved, value, limit, unit,
             appeal_id, title, appeal_status, agency) = row  # fmt: skip
            device = devices.get(device_id)
            where = ", ".join(x for x in ((device[3], device[4]) if device else ()) if x)
            until = _when(resolved, started, tz) if resolved else "open"
            measured = (
                f"{value:.1f}{' / ' + format(limit, 'g') if limit is not None else ''} {unit}"
                if value is not None else ""
            )  # fmt: skip
            appeal = (
                f'<span lang="ru">{escape(title)}</span><br><span class="muted">#{appeal_id}, '
                f"{escape(appeal_status)}{', ' + escape(agency) if agency else ''}</span>"
                if appeal_id is not None else '<span class="muted">—</span>'
            )  # fmt: skip
            parts.append(
                f'<tr><td class="num">{numbers[iid]}</td><td>{escape(itype.replace("_", " "))}'
                f'<br><span class="muted">#{iid}, {escape(status)}</span></td>'
                f"<td>{escape(_device_name(devices, device_id))}</td><td>{escape(where)}</td>"
                f"<td>{started.astimezone(tz):%d.%m %H:%M}</td><td>{until}</td>"
                f'<td><span class="sev s{severity}">{SEVERITY.get(severity, severity)}</span></td>'
                f"<td>{escape(measured)}</td><td>{appeal}</td></tr>"
            )
        parts.append("</tbody></table>")
    if citizen:
        parts.append(
            "<h3>Citizens' appeals</h3><table><thead><tr><th>#</th><th>appeal</th>"
            "<th>where</th><th>received</th><th>status</th></tr></thead><tbody>"
        )
        for aid, title, district, address, status, requested, _, _ in citizen:
            where = ", ".join(x for x in (district, address) if x)
            parts.append(
                f'<tr><td class="num">{aid}</td><td lang="ru">{escape(title)}</td>'
                f"<td>{escape(where)}</td><td>{requested.astimezone(tz):%d.%m %H:%M}</td>"
                f"<td>{escape(status)}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</section>")
    return "".join(parts)


def _thousands(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")  # a narrow no-break space


def _empty(title: str, message: str) -> str:
    return f'<section><h2>{escape(title)}</h2><p class="muted">{escape(message)}</p></section>'


def _when(t: datetime, since: datetime, tz: tzinfo) -> str:
    """``HH:MM``, with the date when it is not the day of ``since``."""
    local = t.astimezone(tz)
    return (
        f"{local:%H:%M}" if local.date() == since.astimezone(tz).date() else f"{local:%d.%m %H:%M}"
    )


def _districts(devices: dict[str, tuple[Any, ...]]) -> list[Area]:
    spots: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for d in devices.values():
        if d[3] and d[5] is not None and d[6] is not None:
            spots[d[3]].append((d[5], d[6]))
    return [Area(district, tuple(ps)) for district, ps in sorted(spots.items())]


def _device_name(devices: dict[str, tuple[Any, ...]], device_id: str) -> str:
    d = devices.get(device_id)
    return f"{d[2]} ({device_id})" if d and d[2] else device_id


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body><main>
{body}
<footer class="muted">Generated by citypulse on {generated}. Charts are computed from the
raw readings; the same data is in the Grafana dashboards.</footer>
</main></body></html>
"""

_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f1f5f9; color: #111827;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 40px; }
header { display: flex; align-items: baseline; gap: 16px; }
h1 { font-size: 26px; margin: 0; letter-spacing: -0.02em; }
h2 { font-size: 19px; margin: 0 0 6px; }
h3 { font-size: 14px; margin: 18px 0 4px; color: #374151; }
section { background: #fff; border-radius: 10px; padding: 18px 20px; margin: 16px 0;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .06); }
.period { margin: 0; font-size: 15px; }
.muted { color: #6b7280; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px;
  background: none; box-shadow: none; padding: 0; }
.card { background: #fff; border-radius: 10px; padding: 12px 14px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .06); }
.card .label { color: #6b7280; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 26px; font-weight: 650; margin: 2px 0; }
.card .muted { font-size: 12px; }
svg.chart, svg.map { width: 100%; height: auto; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 4px 0 8px 56px; font-size: 12px; }
.key { display: inline-flex; align-items: center; gap: 6px; }
.key i { display: inline-block; width: 18px; border-top: 2.5px solid; }
table { width: 100%; border-collapse: collapse; margin-top: 12px; font-size: 13px; }
th { text-align: left; font-weight: 600; color: #374151; border-bottom: 2px solid #e5e7eb;
  padding: 6px 8px; }
td { border-bottom: 1px solid #f1f5f9; padding: 6px 8px; vertical-align: top; }
td.num { color: #dc2626; font-weight: 700; }
td.bad { color: #b91c1c; font-weight: 650; }
td.warn { color: #c2410c; }
.sev { border-radius: 999px; padding: 1px 8px; font-size: 12px; white-space: nowrap; }
.s1 { background: #e0f2fe; } .s2 { background: #fef9c3; } .s3 { background: #fed7aa; }
.s4 { background: #fecaca; }
footer { font-size: 12px; margin-top: 12px; }
@media (max-width: 720px) { .cards { grid-template-columns: repeat(2, 1fr); } }
@media print { body { background: #fff; } section { box-shadow: none; } }
"""
