"""A static HTML report of a period, for people without Grafana.

One self-contained file (inline CSS and SVG, no JavaScript, nothing fetched): the city's
traffic over time (total and per district), air quality against the СанПиН 1.2.3685-21
limits, and the period's incidents on a map and in a table with their appeals' texts.
In the routing file's language unless told otherwise (the demo's ``--locale``, else
``CITYPULSE_LOCALE``), every time in the routing file's time zone, districts by their
names, values in the units of the appeal texts (a pollutant in mg/m³, as its limit).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from appeals import APPEAL_STATUSES, SEVERITIES, Routing, format_number, load_routing
from citypulse import AIR_LIMITS, LOCALES, MG_PER_M3, Device
from citypulse.db import READING_TABLES, load_devices
from citypulse.render import (
    PALETTE,
    Chart,
    Series,
    Threshold,
    legend,
    line_chart,
)
from lab._report_map import incident_map
from lab._report_rows import (
    AIR,
    CITIZEN_APPEALS,
    COUNT,
    INCIDENTS,
    TRAFFIC,
    AirRow,
    CitizenRow,
    IncidentRow,
    TrafficRow,
)
from lab._report_words import INCIDENT_STATUSES, INCIDENT_TYPES, Words

#: Pollutants shown, with their display names; limits come from the kernel's table.
POLLUTANTS = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO₂"}


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """What the written report shows, for the caller's own summary."""

    path: Path
    devices: int
    readings: int
    incidents: int
    appeals: int


def write_report(
    conn: psycopg.Connection[Any],
    path: str | Path,
    *,
    start: datetime,
    end: datetime,
    routing: Routing | None = None,
    locale: str | None = None,
) -> ReportSummary:
    """Write the report of ``[start, end)`` to ``path`` (read-only queries on ``conn``),
    in ``locale`` (default: the routing file's), times in the routing file's zone."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must carry a UTC offset")
    if end <= start:
        raise ValueError("end must be after start")
    routing = routing or load_routing()
    locale = locale or routing.locale
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {', '.join(LOCALES)}, got {locale!r}")
    w = Words(locale, routing.zone)
    params = {"start": start, "end": end}
    devices = load_devices(conn)
    readings = 0
    for table in READING_TABLES.values():
        row = conn.execute(sql.SQL(COUNT).format(sql.Identifier(table)), params).fetchone()
        readings += int(row[0]) if row else 0
    incidents = (
        conn.cursor(row_factory=class_row(IncidentRow)).execute(INCIDENTS, params).fetchall()
    )
    citizen = (
        conn.cursor(row_factory=class_row(CitizenRow)).execute(CITIZEN_APPEALS, params).fetchall()
    )
    chart = Chart(start=start, end=end, tz=routing.zone, number=w.number)
    now = datetime.now(UTC)
    page = _Page(w, routing, devices, start, end)
    body = [
        page.header(readings, incidents, citizen),
        page.traffic(conn, chart, params),
        page.air(conn, chart, params),
        page.incidents(incidents, citizen),
    ]
    html = _PAGE.format(
        lang=locale,
        title=escape(w.say("title", date=f"{start.astimezone(w.zone):%d.%m.%Y}")),
        css=_CSS,
        body="\n".join(body),
        footer=escape(w.say("footer", at=w.zoned(now, w.stamp(now)))),
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    appeals = sum(1 for i in incidents if i.appeal_id is not None) + len(citizen)
    return ReportSummary(out, len(devices), readings, len(incidents), appeals)


def limit_lines(pollutant: str, locale: str = "ru") -> tuple[Threshold, Threshold]:
    """The ПДК м.р. (dashed) and ПДК с.с. (dotted) lines of a pollutant's chart, in mg/m³
    as the table states them (readings are drawn in the same unit)."""
    limit = AIR_LIMITS[pollutant]
    single, daily = format_number(limit.max_single, locale), format_number(limit.daily, locale)
    return (
        Threshold(limit.max_single, f"ПДК м.р. {single}"),
        Threshold(limit.daily, f"ПДК с.с. {daily}", "#9f1239", dashed=False),
    )


class _Page:
    """The sections of one report: words, places and the period they share."""

    def __init__(
        self,
        w: Words,
        routing: Routing,
        devices: dict[str, Device],
        start: datetime,
        end: datetime,
    ) -> None:
        self.w, self.routing, self.devices = w, routing, devices
        self.start, self.end = start, end
        # One colour per district, the same in the charts and on the map.
        slugs = sorted({d.district for d in devices.values() if d.district})
        self.colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(slugs)}

    def district(self, slug: str) -> str:
        return self.routing.district_name(slug) if slug else "—"

    def device_name(self, device_id: str) -> str:
        d = self.devices.get(device_id)
        return d.name if d and d.name else device_id

    def when(self, t: datetime) -> str:
        """A time in a sentence: with its date when the period spans more than a day."""
        local, first = t.astimezone(self.w.zone), self.start.astimezone(self.w.zone)
        same_day = self.end - self.start <= timedelta(days=1) and local.date() == first.date()
        return f"{local:%H:%M}" if same_day else self.w.stamp(t)

    def header(self, readings: int, incidents: list[IncidentRow], citizen: list[CitizenRow]) -> str:
        w = self.w
        kinds: dict[str, int] = defaultdict(int)
        for d in self.devices.values():
            kinds[d.kind.value] += 1
        done = sum(1 for i in incidents if i.status != "open")
        sensors = sum(1 for i in incidents if i.appeal_id is not None)
        cards = [
            (w.say("devices"), str(len(self.devices)),
             w.kinds(kinds)),
            (w.say("readings"), w.number(readings), w.say("in_period")),
            (w.say("incidents"), str(len(incidents)),
             w.say("incidents_split", done=done, open=len(incidents) - done)),
            (w.say("appeals"), str(sensors + len(citizen)),
             w.say("appeals_split", sensors=sensors, citizens=len(citizen))),
        ]  # fmt: skip
        period = f"{w.stamp(self.start)} – {w.stamp(self.end)}"
        return (
            f'<header><h1>citypulse</h1><p class="period">{escape(self.routing.region)}, '
            f'{escape(period)} <span class="muted zone">'
            f"{escape(w.zone_named('zone', self.start))}</span></p></header>"
            '<section class="cards">'
            + "".join(
                f'<div class="card"><div class="label">{escape(a)}</div>'
                f'<div class="value">{escape(b)}</div><div class="muted">{escape(c)}</div></div>'
                for a, b, c in cards
            )
            + "</section>"
        )

    def traffic(self, conn: psycopg.Connection[Any], chart: Chart, params: dict[str, Any]) -> str:
        w = self.w
        long = chart.end - chart.start > timedelta(days=2)
        step = timedelta(hours=1) if long else timedelta(minutes=15)
        rows = conn.cursor(row_factory=class_row(TrafficRow)).execute(
            TRAFFIC, {**params, "step": step}
        )
        per_hour = timedelta(hours=1) / step
        by_district: dict[str, dict[datetime, tuple[float, float, float]]] = defaultdict(dict)
        total: dict[datetime, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        for r in rows:
            v, sw, wt = (r.vehicles or 0.0), (r.speed_weighted or 0.0), (r.speed_weight or 0.0)
            by_district[r.district or ""][r.bucket] = (v, sw, wt)
            acc = total[r.bucket]
            acc[0], acc[1], acc[2] = acc[0] + v, acc[1] + sw, acc[2] + wt
        if not total:
            return _empty(w.say("traffic"), w.say("no_traffic"))
        buckets = sorted(total)
        city = w.say("city")
        city_flow = Series(city, [(b, total[b][0] * per_hour) for b in buckets], "#111827", 2.4)
        city_speed = Series(
            city, [(b, total[b][1] / total[b][2] if total[b][2] else None) for b in buckets],
            "#111827", 2.4,
        )  # fmt: skip
        flows, speeds = [], []
        for slug, series in sorted(by_district.items()):
            color, name = self.colors.get(slug, "#64748b"), self.district(slug)
            pts = sorted(series.items())
            flows.append(Series(name, [(b, v * per_hour) for b, (v, _, _) in pts], color, 1.4))
            speeds.append(
                Series(name, [(b, sw / wt if wt else None) for b, (_, sw, wt) in pts], color, 1.4)
            )
        peak_at = max(buckets, key=lambda b: total[b][0])
        slowest = min((b for b in buckets if total[b][2]), key=lambda b: total[b][1] / total[b][2])
        facts = w.say(
            "traffic_facts",
            peak=f"{w.number(total[peak_at][0] * per_hour)}\u00a0{w.say('veh_h')}",
            peak_at=w.zoned(peak_at, self.when(peak_at)),
            slow=w.quantity(total[slowest][1] / total[slowest][2], "km/h"),
            slow_at=w.zoned(slowest, self.when(slowest)),
            step=w.duration(step.total_seconds()),
        )
        veh_h, kmh = w.say("veh_h"), w.unit("km/h")
        return (
            f"<section><h2>{escape(w.say('traffic'))}</h2>"
            f'<p class="muted">{escape(facts)}</p>'
            f"<h3>{escape(w.say('flow'))}</h3>"
            + line_chart(chart, [city_flow], unit=veh_h)
            + line_chart(chart, flows, unit=veh_h)
            + legend([city_flow, *flows])
            + f"<h3>{escape(w.say('speed'))}</h3>"
            + line_chart(chart, [city_speed, *speeds], unit=kmh, y_min=None)
            + legend([city_speed, *speeds])
            + "</section>"
        )

    def air(self, conn: psycopg.Connection[Any], chart: Chart, params: dict[str, Any]) -> str:
        w = self.w
        rows = conn.cursor(row_factory=class_row(AirRow)).execute(AIR, params).fetchall()
        if not rows:
            return _empty(w.say("air"), w.say("no_air"))
        unit = w.unit(MG_PER_M3)
        stations = sorted({r.device_id for r in rows})
        parts = [
            f"<section><h2>{escape(w.say('air'))}</h2>",
            f'<p class="muted">{escape(w.say("air_intro", unit=unit))}</p>',
        ]
        table = []
        for pollutant, name in POLLUTANTS.items():
            single, daily = limit_lines(pollutant, w.locale)
            to_mg = 1 / AIR_LIMITS[pollutant].unit_factor  # readings in their unit -> mg/m³
            series = []
            for i, station in enumerate(stations):
                pts: list[tuple[datetime, float | None]] = []
                for r in rows:
                    if r.device_id == station:
                        raw: float | None = getattr(r, pollutant)
                        pts.append((r.time, None if raw is None else raw * to_mg))
                color = PALETTE[i % len(PALETTE)]
                series.append(Series(self.device_name(station), pts, color))
                values = [(t, v) for t, v in pts if v is not None]
                if values:
                    worst_t, worst = max(values, key=lambda p: p[1])
                    over = sum(1 for _, v in values if v > single.value)
                    mean = sum(v for _, v in values) / len(values)
                    table.append((name, station, worst, worst_t, over, mean, single, daily))
            parts.append(f"<h3>{escape(name)}</h3>")
            parts.append(line_chart(chart, series, unit=unit, thresholds=(single, daily)))
            parts.append(legend([*series, single, daily]))
        parts.append(
            _thead(
                w.columns("air_head", unit=unit), caption=w.zone_named("times_caption", self.start)
            )
        )
        for name, station, worst, worst_t, over, mean, single, daily in table:
            share = worst / single.value
            bad = ' class="bad"' if share > 1 else ""
            warn = ' class="warn"' if mean > daily.value else ""
            parts.append(
                f"<tr><td>{escape(name)}</td><td>{self.device_cell(station)}</td>"
                f"<td{bad}>{w.number(worst)}</td><td>{escape(self.when(worst_t))}</td>"
                f"<td{bad}>{w.percent(share)}</td><td{bad}>{over}</td>"
                f"<td{warn}>{w.number(mean)}</td><td>{w.number(daily.value)}</td></tr>"
            )
        parts.append("</tbody></table></section>")
        return "".join(parts)

    def device_cell(self, device_id: str, *, place: bool = False) -> str:
        """A device's name; with ``place``, its district and address; its id, small."""
        d = self.devices.get(device_id)
        lines = [escape(self.device_name(device_id))]
        if place and d is not None:
            # A device at an intersection is named by it; another's address says more.
            address = d.address if d.address and not d.intersection else ""
            where = ", ".join(x for x in (self.routing.district_name(d.district), address) if x)
            if where:
                lines.append(f'<span class="muted">{escape(where)}</span>')
        lines.append(f'<span class="muted id">{escape(device_id)}</span>')
        return "<br>".join(lines)

    def incidents(self, incidents: list[IncidentRow], citizen: list[CitizenRow]) -> str:
        w = self.w
        numbers = {row.id: n for n, row in enumerate(incidents, start=1)}
        parts = [
            f"<section><h2>{escape(w.say('incidents_h'))}</h2>",
            incident_map(w, self.routing, self.devices, self.colors, incidents, numbers, citizen),
        ]
        if not incidents:
            parts.append(f'<p class="muted">{escape(w.say("no_incidents"))}</p>')
        else:
            caption = w.zone_named("times_caption", self.start)
            parts.append(_thead(w.columns("incident_head"), caption=caption))
            for row in incidents:
                parts.append(self.incident_row(numbers[row.id], row))
            parts.append("</tbody></table>")
        if citizen:
            parts.append(f"<h3>{escape(w.say('citizens_h'))}</h3>")
            parts.append(
                _thead(w.columns("citizen_head"), caption=w.zone_named("times_caption", self.start))
            )
            for a in citizen:
                where = ", ".join(
                    x for x in (self.district(a.district) if a.district else "", a.address) if x
                )
                parts.append(
                    f'<tr><td class="num">{a.id}</td><td>{escape(a.title)}</td>'
                    f"<td>{escape(where)}</td><td>{w.stamp(a.requested_at)}</td>"
                    f"<td>{escape(w.name(APPEAL_STATUSES, a.status))}</td></tr>"
                )
            parts.append("</tbody></table>")
        parts.append("</section>")
        return "".join(parts)

    def incident_row(self, number: int, i: IncidentRow) -> str:
        w = self.w
        if i.resolved_at is not None:
            until = f'<span class="time">{w.stamp(i.resolved_at)}</span>'
            lasted = w.duration((i.resolved_at - i.started_at).total_seconds())
        else:
            # Still open now, so it lasted at least to the period's end (or to now).
            seen = max(i.last_alarm_at, min(self.end, datetime.now(UTC)))
            until = escape(w.say("ongoing"))
            lasted = w.say("at_least", d=w.duration((seen - i.started_at).total_seconds()))
        value = w.quantity(i.value, i.unit, i.metric)
        limit = w.quantity(i.limit_value, i.unit, i.metric)
        if value and limit:
            value = w.say("limit", value=value, limit=limit)
        appeal = '<span class="muted">—</span>'
        if i.appeal_id is not None:
            status = w.name(APPEAL_STATUSES, i.appeal_status or "")
            agency = f", {escape(i.appeal_agency)}" if i.appeal_agency else ""
            lang = escape(i.appeal_locale or w.locale)  # as the appeal was written
            appeal = (
                f'<span lang="{lang}">{escape(i.appeal_title or "")}</span><br>'
                f'<span class="muted">{escape(w.say("appeal_no", id=i.appeal_id))}, '
                f"{escape(status)}{agency}</span>"
            )
        status = w.name(INCIDENT_STATUSES, i.status)
        severity = w.pick(SEVERITIES.get(i.severity, (str(i.severity),) * 2))
        return (
            f'<tr><td class="num">{number}</td><td>{escape(w.name(INCIDENT_TYPES, i.type))}'
            f'<br><span class="muted">#{i.id}, {escape(status)}</span>'
            f'<br><span class="sev s{i.severity}">{escape(severity)}</span></td>'
            f"<td>{self.device_cell(i.device_id, place=True)}</td>"
            f'<td class="when"><span class="time">{w.stamp(i.started_at)}</span> –<br>{until}'
            f'<br><span class="muted">{escape(lasted)}</span></td>'
            f"<td>{escape(value)}</td><td>{appeal}</td></tr>"
        )


def _thead(columns: list[str], *, caption: str = "") -> str:
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    heads = "".join(f"<th>{escape(c)}</th>" for c in columns)
    return f"<table>{cap}<thead><tr>{heads}</tr></thead><tbody>"


def _empty(title: str, message: str) -> str:
    return f'<section><h2>{escape(title)}</h2><p class="muted">{escape(message)}</p></section>'


_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body><main>
{body}
<footer class="muted">{footer}</footer>
</main></body></html>
"""

_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f1f5f9; color: #111827;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 40px; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
h1 { font-size: 26px; margin: 0; letter-spacing: -0.02em; }
h2 { font-size: 19px; margin: 0 0 6px; }
h3 { font-size: 14px; margin: 18px 0 4px; color: #374151; }
section { background: #fff; border-radius: 10px; padding: 18px 20px; margin: 16px 0;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .06); }
.period { margin: 0; font-size: 15px; }
.muted { color: #6b7280; }
.id { font-size: 11px; }
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
caption { caption-side: top; text-align: left; color: #6b7280; font-size: 12px;
  padding: 0 8px 4px; }
th { text-align: left; font-weight: 600; color: #374151; border-bottom: 2px solid #e5e7eb;
  padding: 6px 8px; vertical-align: bottom; }
td { border-bottom: 1px solid #f1f5f9; padding: 6px 8px; vertical-align: top; }
td.num { color: #dc2626; font-weight: 700; }
.time { white-space: nowrap; }
td.when { white-space: nowrap; }
td.bad { color: #b91c1c; font-weight: 650; }
td.warn { color: #c2410c; }
.sev { border-radius: 999px; padding: 1px 8px; font-size: 12px; white-space: nowrap; }
.s1 { background: #e0f2fe; } .s2 { background: #fef9c3; } .s3 { background: #fed7aa; }
.s4 { background: #fecaca; }
footer { font-size: 12px; margin-top: 12px; }
@media (max-width: 720px) { .cards { grid-template-columns: repeat(2, 1fr); } }
@media print { body { background: #fff; } section { box-shadow: none; } }
"""
