"""Time-series charts: shaded time bands (an incident's span) beneath the lines; x-y charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from citypulse.render import (
    PALETTE,
    Band,
    Chart,
    Series,
    XYSeries,
    line_chart,
    series_style,
    xy_chart,
)

T0 = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
CHART = Chart(start=T0, end=T0 + timedelta(hours=4), tz=ZoneInfo("Europe/Moscow"), width=460)
SERIES = [Series("pm25", [(T0 + timedelta(minutes=10 * i), float(i)) for i in range(25)])]


def _rects(svg: str) -> list[tuple[float, float]]:
    return [
        (float(x), float(w))
        for x, w in re.findall(r'<rect x="([\d.]+)" y="\d+" width="([\d.]+)"', svg)
    ]


def test_a_band_is_shaded_beneath_the_lines_and_clipped_to_the_chart() -> None:
    inside = Band(T0 + timedelta(hours=1), T0 + timedelta(hours=2), "инцидент <№1>")
    svg = line_chart(CHART, SERIES, unit="мкг/м³", bands=[inside])
    ((x, w),) = _rects(svg)
    plot = CHART.plot_w
    assert abs(x - (CHART.pad[3] + plot / 4)) < 0.2
    assert abs(w - plot / 4) < 0.2
    assert svg.index("<rect") < svg.index("<polyline")  # beneath the line
    assert "инцидент &lt;№1&gt;" in svg
    late = Band(T0 + timedelta(hours=3), T0 + timedelta(hours=9), "до сих пор")
    ((x, w),) = _rects(line_chart(CHART, SERIES, unit="", bands=[late]))
    assert abs(x + w - (CHART.width - CHART.pad[1])) < 0.2  # stops at the right edge
    outside = Band(T0 - timedelta(hours=3), T0 - timedelta(hours=2), "раньше")
    assert _rects(line_chart(CHART, SERIES, unit="", bands=[outside])) == []
    assert _rects(line_chart(CHART, SERIES, unit="")) == []


def test_xy_chart_breaks_a_line_at_nan_and_keys_every_series() -> None:
    svg = xy_chart(
        [
            XYSeries("a", [(0.0, 0.1), (1.0, float("nan")), (2.0, 0.3), (3.0, 0.4)]),
            XYSeries("b", [(0.0, 0.9), (3.0, 1.0)], color="#000000"),
        ],
        x_label="severity",
        y_label="recall",
        y_range=(0.0, 1.0),
    )
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    lines = [(p.findtext(f"{ns}title"), p.get("points", "")) for p in root.iter(f"{ns}polyline")]
    assert [(name, len(points.split())) for name, points in lines] == [
        ("a", 1),
        ("a", 2),
        ("b", 2),
    ]
    texts = {t.text for t in root.iter(f"{ns}text")}
    assert {"a", "b", "severity", "recall"} <= texts


def test_series_styles_stay_distinct_beyond_the_palette() -> None:
    styles = [series_style(n) for n in range(len(PALETTE) * 2 + 1)]
    assert len(set(styles)) == len(styles)
    kinds = [f"type{n}" for n in range(len(PALETTE) + 2)]
    svg = xy_chart(
        [
            XYSeries(
                k,
                [(0.5, 0.1 * n), (1.0, 0.1 * n + 0.05)],
                *series_style(n)[:1],
                dash=series_style(n)[1],
            )
            for n, k in enumerate(kinds)
        ],
        x_label="severity",
        y_label="recall",
    )
    # The eighth series has the first one's colour, so it must be drawn dashed.
    eighth = svg.split("<title>type7</title>")[0].rsplit("<polyline", 1)[1]
    assert f'stroke="{PALETTE[0]}"' in eighth
    assert "stroke-dasharray" in eighth
