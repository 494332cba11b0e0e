"""Inline SVG charts: time series for the report and the pages that show readings, and
a plain x-y chart (:func:`xy_chart`) for figures against a number, such as a curve.

Plain strings, no dependencies and no JavaScript; hovering a point shows its ``<title>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape

PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d")
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def _fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ") if abs(value) >= 100 else f"{value:g}"


@dataclass(frozen=True, slots=True)
class Series:
    """One line: ``points`` in time order; ``None`` values and long gaps break the line."""

    name: str
    points: Sequence[tuple[datetime, float | None]]
    color: str = PALETTE[0]
    width: float = 1.8
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Threshold:
    """A horizontal reference line (a limit)."""

    value: float
    label: str
    color: str = "#dc2626"
    dashed: bool = True


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded span of time (an incident, say), labelled at its top left."""

    start: datetime
    end: datetime
    label: str
    color: str = "#fee2e2"


@dataclass(frozen=True, slots=True)
class Chart:
    """Geometry of a time chart: ``[start, end)`` in ``tz`` across ``width`` pixels;
    ``number`` writes the axis' values (the locale's decimal mark)."""

    start: datetime
    end: datetime
    tz: tzinfo
    width: int = 920
    height: int = 240
    pad: tuple[int, int, int, int] = (14, 16, 28, 56)  # top, right, bottom, left
    max_gap: timedelta = timedelta(minutes=45)
    number: Callable[[float], str] = _fmt

    @property
    def plot_w(self) -> float:
        return self.width - self.pad[1] - self.pad[3]

    @property
    def plot_h(self) -> float:
        return self.height - self.pad[0] - self.pad[2]

    def x(self, t: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        return self.pad[3] + self.plot_w * (t - self.start).total_seconds() / span


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _time_ticks(chart: Chart) -> list[datetime]:
    hours = (chart.end - chart.start).total_seconds() / 3600
    step = next(h for h in (1, 2, 3, 6, 12, 24, 48, 168) if hours / h <= 9)
    local = chart.start.astimezone(chart.tz)
    t = local.replace(minute=0, second=0, microsecond=0)
    while t < local or (t.hour % step if step < 24 else t.hour):
        t += timedelta(hours=1)
    ticks = []
    while t <= chart.end:
        ticks.append(t)
        t += timedelta(hours=step)
    return ticks


def line_chart(
    chart: Chart,
    series: Sequence[Series],
    *,
    unit: str,
    thresholds: Sequence[Threshold] = (),
    y_min: float | None = 0.0,
    bands: Sequence[Band] = (),
) -> str:
    """An SVG line chart of ``series`` with optional horizontal ``thresholds`` and shaded
    time ``bands`` (clipped to the chart, drawn beneath everything else)."""
    values = [v for s in series for _, v in s.points if v is not None]
    values += [th.value for th in thresholds]
    low = min(values, default=0.0) if y_min is None else y_min
    high = max(values, default=1.0) * 1.05
    ticks = nice_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    top, bottom = chart.pad[0], chart.height - chart.pad[2]

    def y(v: float) -> float:
        return bottom - (v - low) / (high - low) * chart.plot_h

    out = [
        f'<svg viewBox="0 0 {chart.width} {chart.height}" class="chart" role="img" '
        f'aria-label="{escape(unit)}" {FONT} font-size="11">'
    ]
    left, right = chart.pad[3], chart.width - chart.pad[1]
    for band in bands:
        x0 = min(max(chart.x(band.start), left), right)
        x1 = min(max(chart.x(band.end), left), right)
        if x1 - x0 < 1:
            continue
        out.append(
            f'<rect x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" height="{chart.plot_h:.1f}" '
            f'fill="{band.color}"><title>{escape(band.label)}</title></rect>'
            f'<text x="{x0 + 4:.1f}" y="{top + 12}" fill="#9f1239">{escape(band.label)}</text>'
        )
    for v in ticks:
        out.append(
            f'<line x1="{chart.pad[3]}" x2="{chart.width - chart.pad[1]}" y1="{y(v):.1f}" '
            f'y2="{y(v):.1f}" stroke="#e5e7eb"/>'
            f'<text x="{chart.pad[3] - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
            f'fill="#6b7280">{chart.number(v)}</text>'
        )
    for t in _time_ticks(chart):
        x = chart.x(t)
        label = t.strftime("%H:%M") if t.hour or t == chart.start else t.strftime("%d.%m")
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#f1f5f9"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#6b7280">'
            f"{label}</text>"
        )
    out.append(
        f'<text x="12" y="{top + chart.plot_h / 2:.0f}" fill="#6b7280" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + chart.plot_h / 2:.0f})">{escape(unit)}</text>'
    )
    for th in thresholds:
        dash = ' stroke-dasharray="6 4"' if th.dashed else ' stroke-dasharray="2 3"'
        out.append(
            f'<line x1="{chart.pad[3]}" x2="{chart.width - chart.pad[1]}" y1="{y(th.value):.1f}" '
            f'y2="{y(th.value):.1f}" stroke="{th.color}" stroke-width="1.4"{dash}/>'
            f'<text x="{chart.width - chart.pad[1] - 4}" y="{y(th.value) - 4:.1f}" '
            f'text-anchor="end" fill="{th.color}">{escape(th.label)}</text>'
        )
    for s in series:
        out.extend(_path(chart, s, y))
    out.append("</svg>")
    return "".join(out)


def _path(chart: Chart, s: Series, ys: Callable[[float], float]) -> list[str]:
    segments: list[list[str]] = []
    last: datetime | None = None
    for t, v in s.points:
        if v is None:
            last = None
            continue
        point = f"{chart.x(t):.1f},{ys(v):.1f}"
        if last is None or t - last > chart.max_gap:
            segments.append([point])
        else:
            segments[-1].append(point)
        last = t
    dash = ' stroke-dasharray="5 3"' if s.dashed else ""
    out = []
    for seg in segments:
        if len(seg) == 1:
            x, yy = seg[0].split(",")
            out.append(f'<circle cx="{x}" cy="{yy}" r="1.6" fill="{s.color}"/>')
        else:
            out.append(
                f'<polyline points="{" ".join(seg)}" fill="none" stroke="{s.color}" '
                f'stroke-width="{s.width}" stroke-linejoin="round"{dash}>'
                f"<title>{escape(s.name)}</title></polyline>"
            )
    return out


def legend(series: Sequence[Series | Threshold]) -> str:
    """An HTML legend for a chart's lines."""
    items = []
    for s in series:
        if isinstance(s, Series):
            name, style = s.name, "dashed" if s.dashed else "solid"
        else:
            name, style = s.label, "dashed" if s.dashed else "dotted"
        items.append(
            f'<span class="key"><i style="border-color:{s.color};border-top-style:{style}">'
            f"</i>{escape(name)}</span>"
        )
    return f'<div class="legend">{"".join(items)}</div>'


@dataclass(frozen=True, slots=True)
class XYSeries:
    """One line of an x-y chart: ``points`` in x order; a NaN value breaks the line."""

    name: str
    points: Sequence[tuple[float, float]]
    color: str = PALETTE[0]
    width: float = 1.8
    dash: str = ""


#: Line patterns that tell series of the same colour apart, after the palette's colours.
DASHES = ("", "6 3", "2 3", "8 3 2 3")


def series_style(n: int) -> tuple[str, str]:
    """The ``n``-th series' colour and dash pattern: every colour solid, then every colour
    dashed, and so on, so ``len(PALETTE) * len(DASHES)`` series all look different."""
    return PALETTE[n % len(PALETTE)], DASHES[(n // len(PALETTE)) % len(DASHES)]


def xy_chart(
    series: Sequence[XYSeries],
    *,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    width: int = 720,
    height: int = 360,
) -> str:
    """A standalone SVG line chart of ``series`` against a numeric x, with its legend
    (the series' names, in order) inside the picture, right of the plot."""
    xs = [x for s in series for x, _ in s.points]
    ys = [v for s in series for _, v in s.points if not math.isnan(v)]
    x_ticks = nice_ticks(min(xs, default=0.0), max(xs, default=1.0))
    low, high = y_range or (min(ys, default=0.0), max(ys, default=1.0))
    y_ticks = nice_ticks(low, high)
    top, right, bottom, left = 14, width - 190, height - 40, 56
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (right - left)

    def py(v: float) -> float:
        return bottom - (v - y0) / (y1 - y0) * (bottom - top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="chart" role="img" aria-label="{escape(y_label)}" {FONT} font-size="11">'
    ]
    for v in y_ticks:
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end" '
            f'fill="#6b7280">{_fmt(v)}</text>'
        )
    for x in x_ticks:
        out.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{bottom}" stroke="#f1f5f9"/>'
            f'<text x="{px(x):.1f}" y="{bottom + 16}" text-anchor="middle" '
            f'fill="#6b7280">{_fmt(x)}</text>'
        )
    mid = (top + bottom) / 2
    out.append(
        f'<text x="{(left + right) / 2:.0f}" y="{height - 6}" text-anchor="middle" '
        f'fill="#6b7280">{escape(x_label)}</text>'
        f'<text x="12" y="{mid:.0f}" fill="#6b7280" text-anchor="middle" '
        f'transform="rotate(-90 12 {mid:.0f})">{escape(y_label)}</text>'
    )
    for n, s in enumerate(series):
        segments: list[list[str]] = [[]]
        for x, v in s.points:
            if math.isnan(v):
                segments.append([])
            else:
                segments[-1].append(f"{px(x):.1f},{py(v):.1f}")
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        for seg in segments:
            if seg:
                out.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{s.color}" '
                    f'stroke-width="{s.width}" stroke-linejoin="round"{dash}>'
                    f"<title>{escape(s.name)}</title></polyline>"
                )
                out.extend(
                    f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.4" '
                    f'fill="{s.color}"/>'
                    for p in seg
                )
        ky = top + 6 + 16 * n
        out.append(
            f'<line x1="{right + 14}" x2="{right + 34}" y1="{ky}" y2="{ky}" '
            f'stroke="{s.color}" stroke-width="{s.width}"{dash}/>'
            f'<text x="{right + 40}" y="{ky + 4}" fill="#374151">{escape(s.name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
