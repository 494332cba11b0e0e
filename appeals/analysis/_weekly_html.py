"""The weekly report as HTML: one self-contained, printable page (inline CSS and SVG, no
JavaScript, nothing fetched), A4 with one printed page per section, in Russian by default.

:func:`render_week` writes the whole document (``citypulse report week``);
:func:`render_week_body` writes the sections alone with :data:`WEEKLY_CSS`, for the
console to put inside its own page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from markupsafe import Markup

from appeals._facts import format_duration
from appeals._routing import Routing
from appeals._zones import zone_label
from appeals.analysis._records import TensionPoint
from appeals.analysis._tension_texts import explain
from appeals.analysis._weekly import SOURCES, Figure, Trend, WeeklyReport
from appeals.analysis._weekly_words import (
    DAYS,
    change,
    number,
    percent,
    word,
)
from citypulse.render import PALETTE, Bar, bar_chart, sparkbars, templates

SOURCE_COLORS = (PALETTE[0], PALETTE[2], PALETTE[1])  # citizens, sensors, other systems

WEEKLY_CSS = """
.weekly { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #111827; max-width: 1000px; margin: 0 auto; }
.weekly h1 { font-size: 22px; margin: 0 0 4px; }
.weekly h2 { font-size: 18px; margin: 0 0 10px; border-bottom: 1px solid #e5e7eb;
  padding-bottom: 4px; }
.weekly .sub { color: #6b7280; margin: 0 0 12px; }
.weekly section { margin: 0 0 28px; }
.weekly .cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px;
  margin-bottom: 16px; }
.weekly .card { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 10px; }
.weekly .card b { display: block; font-size: 24px; }
.weekly .card small { color: #6b7280; }
.weekly table { border-collapse: collapse; width: 100%; }
.weekly th, .weekly td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #f1f5f9;
  vertical-align: top; }
.weekly th { font-weight: 600; color: #374151; font-size: 12px; }
.weekly td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.weekly td.pair { white-space: normal; }  /* "median / 90 %" may break at the slash only */
.weekly .ratings th, .weekly .ratings td { padding: 4px 4px; }
.weekly .up { color: #b91c1c; }
.weekly .down { color: #047857; }
.weekly svg.chart { width: 100%; height: auto; }
.weekly .note { color: #6b7280; font-size: 12px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  .weekly { max-width: none; font-size: 11pt; }
  .weekly section { break-before: page; page-break-before: always; margin: 0; }
  .weekly section:first-of-type { break-before: auto; page-break-before: auto; }
  .weekly tr, .weekly .card, .weekly svg { break-inside: avoid; page-break-inside: avoid; }
  .no-print { display: none !important; }
}
"""


@dataclass(frozen=True, slots=True)
class _Card:
    label: str
    value: str
    previous: str
    change: str
    direction: str


@dataclass(frozen=True, slots=True)
class _Row:
    name: str
    count: str
    spark: Markup
    change: str
    direction: str


@dataclass(frozen=True, slots=True)
class _Point:
    kind: str
    where: str
    when: str
    what: str


def _explain(point: TensionPoint, locale: str, routing: Routing) -> str:
    return explain(point, locale, routing)


def _direction(value: float | None) -> str:
    if value is None or abs(value) < 0.005:
        return ""
    return "up" if value > 0 else "down"


class _View:
    """The report's values as the template shows them, in one locale."""

    def __init__(self, report: WeeklyReport, routing: Routing, locale: str) -> None:
        self.r = report
        self.routing = routing
        self.locale = locale
        self.zone = routing.zone
        self.tz = zone_label(self.zone, report.start, locale)

    def w(self, key: str) -> str:
        return word(key, self.locale)

    def n(self, x: float) -> str:
        return number(x, self.locale)

    def when(self, t: datetime) -> str:
        return f"{t.astimezone(self.zone):%d.%m %H:%M} {self.tz}"

    @property
    def period(self) -> str:
        first = self.r.start.astimezone(self.zone)
        last = self.r.end.astimezone(self.zone).date()
        last = last.fromordinal(last.toordinal() - 1)
        return f"{first:%d.%m.%Y} — {last:%d.%m.%Y}"

    @property
    def heading(self) -> str:
        if self.locale == "ru":
            return f"{self.w('title')}: {self.r.week}-я неделя {self.r.year} года"
        return f"{self.w('title')}: week {self.r.week} of {self.r.year}"

    def card(self, label: str, f: Figure) -> _Card:
        return _Card(
            label=label,
            value=self.n(f.value),
            previous=f"{self.w('previous_week')}: {self.n(f.previous)}",
            change=change(f.change, self.locale),
            direction=_direction(f.change),
        )

    @property
    def cards(self) -> list[_Card]:
        r = self.r
        cards = [self.card(self.w("received"), r.received)]
        cards += [self.card(self.w(s), f) for s, f in zip(SOURCES, r.by_source, strict=True)]
        cards += [
            self.card(self.w("resolved"), r.resolved),
            self.card(self.w("overdue"), r.overdue),
        ]
        return cards

    def _labels(self) -> list[str]:
        mondays = [self.r.start.astimezone(self.zone).date()]
        for _ in range(len(self.r.sectors[0].before) if self.r.sectors else 4):
            mondays.insert(0, mondays[0].fromordinal(mondays[0].toordinal() - 7))
        return [f"{m:%d.%m}" for m in mondays]

    def rows(self, trends: tuple[Trend, ...], *, districts: bool = False) -> list[_Row]:
        labels = self._labels()
        out = []
        for t in trends:
            values = [*t.before, t.count]
            name = t.name or (self.w("no_district") if districts else t.name)
            out.append(
                _Row(
                    name=name,
                    count=self.n(t.count),
                    spark=Markup(  # noqa: S704 - citypulse.render escapes every text
                        sparkbars(
                            values,
                            labels=[
                                f"{d}: {self.n(v)}" for d, v in zip(labels, values, strict=False)
                            ],
                        )
                    ),
                    change=change(t.change, self.locale),
                    direction=_direction(t.change),
                )
            )
        return out

    @property
    def days_chart(self) -> Markup:
        bars = [
            Bar(
                f"{DAYS[d.day.weekday()][0 if self.locale == 'ru' else 1]} {d.day:%d.%m}",
                d.by_source,
            )
            for d in self.r.days
        ]
        svg = bar_chart(
            bars,
            series=[self.w(f"{s}_short") for s in SOURCES],
            unit=self.w("appeals_unit"),
            colors=SOURCE_COLORS,
            number=self.n,
        )
        return Markup(svg)  # noqa: S704 - citypulse.render escapes every text

    @property
    def sectors_chart(self) -> Markup:
        bars = [Bar(t.name, (t.count,)) for t in self.r.sectors if t.count or any(t.before)]
        svg = bar_chart(
            bars, series=[self.w("this_week")], unit=self.w("appeals_unit"), horizontal=True,
            number=self.n,
        )  # fmt: skip
        return Markup(svg)  # noqa: S704 - citypulse.render escapes every text

    @property
    def points(self) -> list[_Point]:
        out = []
        for p in self.r.points:
            service = self.routing.service(p.service_code) if p.service_code else None
            where = ", ".join(
                x for x in (p.sector, service.service_name if service else "", p.district) if x
            )
            end = self.when(p.ended_at) if p.ended_at else self.w("still_active")
            out.append(
                _Point(
                    kind=self.w(p.kind.value),
                    where=where,
                    when=f"{self.when(p.started_at)} — {end}",
                    what=_explain(p, self.locale, self.routing),
                )
            )
        return out

    def duration(self, seconds: float | None) -> str:
        return "—" if seconds is None else format_duration(seconds, self.locale)

    def share(self, value: float | None) -> str:
        return percent(value, self.locale)

    @property
    def sensors_first(self) -> list[str]:
        sf = self.r.sensors_first
        if sf is None:
            return [self.w("sf_unknown")]
        if sf.faults == 0:
            return [self.w("sf_none")]
        lines = [
            self.w("sf_faults").replace("{n}", self.n(sf.faults)),
            self.w("sf_first")
            .replace("{k}", self.n(sf.sensor_first))
            .replace("{share}", percent(sf.share, self.locale)),
        ]
        if sf.median_lead_s is not None:
            lines.append(self.w("sf_lead").replace("{lead}", self.duration(sf.median_lead_s)))
        return lines


_ENV: list[jinja2.Environment] = []


def _template(name: str) -> jinja2.Template:
    if not _ENV:
        _ENV.append(templates("appeals.analysis"))
    return _ENV[0].get_template(name)


def _values(report: WeeklyReport, routing: Routing, locale: str) -> dict[str, Any]:
    return {"v": _View(report, routing, locale), "lang": locale, "css": Markup(WEEKLY_CSS)}  # noqa: S704


def render_week_body(report: WeeklyReport, routing: Routing, *, locale: str = "ru") -> str:
    """The report's sections (a ``<div class="weekly">``), without the document around
    them; style them with :data:`WEEKLY_CSS`."""
    return _template("weekly_body.html").render(**_values(report, routing, locale))


def render_week(report: WeeklyReport, routing: Routing, *, locale: str = "ru") -> str:
    """The whole printable HTML document."""
    values = _values(report, routing, locale)
    body = Markup(_template("weekly_body.html").render(**values))  # noqa: S704 - autoescaped
    return _template("weekly.html").render(body=body, **values)
