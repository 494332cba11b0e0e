"""Time-series charts: shaded time bands (an incident's span) beneath the lines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from citypulse.render import Band, Chart, Series, line_chart

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
