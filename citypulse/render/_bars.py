"""Inline SVG bar charts: counts per category, stacked by kind (:func:`bar_chart`), laid
out across (days of a week) or down (sector blocks), and the small per-row bars of a
table (:func:`sparkbars`).  Same conventions as ``_charts``: plain strings, every text
escaped, a ``<title>`` on each bar for hovering, the axis' numbers written by ``number``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from citypulse.render._charts import FONT, PALETTE, _fmt, nice_ticks


@dataclass(frozen=True, slots=True)
class Bar:
    """One category: its label and a value per stacked series (in the series' order)."""

    label: str
    values: Sequence[float]


def bar_chart(
    bars: Sequence[Bar],
    *,
    series: Sequence[str],
    unit: str,
    colors: Sequence[str] = PALETTE,
    horizontal: bool = False,
    width: int = 720,
    height: int | None = None,
    number: Callable[[float], str] = _fmt,
) -> str:
    """An SVG chart of ``bars``, each a stack of one segment per name in ``series``
    (a legend of them is drawn when there are several); ``horizontal`` lays the
    categories down the left with their bars to the right, each labelled with its total."""
    totals = [sum(b.values) for b in bars]
    ticks = nice_ticks(0.0, max(totals, default=1.0) or 1.0)
    high = ticks[-1]
    legend_h = 18 if len(series) > 1 else 0
    out: list[str] = []
    if horizontal:
        row = 22
        h = height or legend_h + 8 + row * max(1, len(bars)) + 24
        left, right, top = 190, width - 60, legend_h + 8
        bottom = top + row * len(bars)

        def px(v: float) -> float:
            return left + v / high * (right - left)

        for v in ticks:
            out.append(
                f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{top}" y2="{bottom}" '
                f'stroke="#e5e7eb"/><text x="{px(v):.1f}" y="{bottom + 14}" '
                f'text-anchor="middle" fill="#6b7280">{escape(number(v))}</text>'
            )
        for i, (bar, total) in enumerate(zip(bars, totals, strict=True)):
            y = top + i * row + 4
            out.append(
                f'<text x="{left - 6}" y="{y + 11}" text-anchor="end" fill="#374151">'
                f"{escape(bar.label)}</text>"
            )
            x = float(left)
            for k, v in enumerate(bar.values):
                w = v / high * (right - left)
                if w > 0:
                    out.append(_rect(x, y, w, row - 8, colors[k % len(colors)], bar, series, k, v))
                x += w
            out.append(
                f'<text x="{x + 4:.1f}" y="{y + 11}" fill="#374151">{escape(number(total))}</text>'
            )
    else:
        h = height or 240
        # room above the plot for the tallest bar's total, clear of the legend
        left, right, top, bottom = 56, width - 16, legend_h + 22, h - 28
        slot = (right - left) / max(1, len(bars))

        def py(v: float) -> float:
            return bottom - v / high * (bottom - top)

        for v in ticks:
            out.append(
                f'<line x1="{left}" x2="{right}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                f'stroke="#e5e7eb"/><text x="{left - 6}" y="{py(v) + 4:.1f}" '
                f'text-anchor="end" fill="#6b7280">{escape(number(v))}</text>'
            )
        for i, (bar, total) in enumerate(zip(bars, totals, strict=True)):
            x = left + i * slot + slot * 0.2
            w = slot * 0.6
            base = 0.0
            for k, v in enumerate(bar.values):
                if v > 0:
                    y0, y1 = py(base + v), py(base)
                    out.append(_rect(x, y0, w, y1 - y0, colors[k % len(colors)], bar, series, k, v))
                base += v
            out.append(
                f'<text x="{x + w / 2:.1f}" y="{py(total) - 4:.1f}" text-anchor="middle" '
                f'fill="#374151">{escape(number(total))}</text>'
                f'<text x="{x + w / 2:.1f}" y="{bottom + 16}" text-anchor="middle" '
                f'fill="#6b7280">{escape(bar.label)}</text>'
            )
        out.append(
            f'<text x="12" y="{(top + bottom) / 2:.0f}" fill="#6b7280" text-anchor="middle" '
            f'transform="rotate(-90 12 {(top + bottom) / 2:.0f})">{escape(unit)}</text>'
        )
    if legend_h:
        x = 56.0
        for k, name in enumerate(series):
            out.append(
                f'<rect x="{x:.0f}" y="4" width="10" height="10" fill="{colors[k % len(colors)]}"/>'
                f'<text x="{x + 14:.0f}" y="13" fill="#374151">{escape(name)}</text>'
            )
            x += 24 + 7 * len(name)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" class="chart bars" '
        f'role="img" aria-label="{escape(unit)}" {FONT} font-size="11">'
    )
    return head + "".join(out) + "</svg>"


def _rect(
    x: float, y: float, w: float, h: float, color: str, bar: Bar, series: Sequence[str], k: int,
    v: float,
) -> str:  # fmt: skip
    name = series[k] if k < len(series) else ""
    title = f"{bar.label}: {name} {_fmt(v)}" if name else f"{bar.label}: {_fmt(v)}"
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{color}">'
        f"<title>{escape(title)}</title></rect>"
    )


def sparkbars(
    values: Sequence[float],
    *,
    labels: Sequence[str] = (),
    width: int = 84,
    height: int = 20,
    color: str = "#94a3b8",
    last_color: str = PALETTE[0],
) -> str:
    """Small bars for a table row, the last one (the current period) in ``last_color``;
    ``labels`` (one per value) become the bars' titles."""
    high = max(values, default=0.0) or 1.0
    n = max(1, len(values))
    slot = width / n
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" class="spark" role="img" aria-hidden="true">'
    ]
    for i, v in enumerate(values):
        h = max(1.0, v / high * (height - 2)) if v > 0 else 1.0
        fill = last_color if i == n - 1 else color
        title = f"<title>{escape(labels[i])}</title>" if i < len(labels) else ""
        out.append(
            f'<rect x="{i * slot + 1:.1f}" y="{height - h:.1f}" width="{slot - 2:.1f}" '
            f'height="{h:.1f}" fill="{fill}">{title}</rect>'
        )
    out.append("</svg>")
    return "".join(out)
