"""Bar charts: one stacked segment per non-zero value, heights in proportion, totals and
labels written and escaped, small bars for table rows."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from citypulse.render import Bar, bar_chart, sparkbars

NS = "{http://www.w3.org/2000/svg}"


def _rects(svg: str) -> list[ET.Element]:
    return [r for r in ET.fromstring(svg).iter(f"{NS}rect") if r.find(f"{NS}title") is not None]


def test_stacked_bars_have_a_segment_per_value_and_their_totals() -> None:
    bars = [Bar("пн", (3, 1, 0)), Bar("вт <b>", (0, 0, 2))]
    svg = bar_chart(bars, series=("граждане", "датчики", "системы"), unit="обращений")
    segments = _rects(svg)
    assert [r.findtext(f"{NS}title") for r in segments] == [
        "пн: граждане 3", "пн: датчики 1", "вт <b>: системы 2",
    ]  # fmt: skip
    heights = [float(r.get("height", "0")) for r in segments]
    assert heights[0] == 3 * heights[1] == 1.5 * heights[2]
    texts = [t.text for t in ET.fromstring(svg).iter(f"{NS}text")]
    assert "4" in texts
    assert "2" in texts
    assert "вт <b>" in texts
    assert "<b>" not in svg


def test_horizontal_bars_are_as_long_as_their_values() -> None:
    svg = bar_chart([Bar("Дороги", (8,)), Bar("ЖКХ", (2,))], series=("неделя",), unit="шт",
                    horizontal=True)  # fmt: skip
    widths = [float(r.get("width", "0")) for r in _rects(svg)]
    assert widths[0] == 4 * widths[1]


def test_sparkbars_mark_the_last_period() -> None:
    svg = sparkbars([1, 0, 2, 4], labels=["a", "b", "c", "d"])
    rects = list(ET.fromstring(svg).iter(f"{NS}rect"))
    assert len(rects) == 4
    assert len({r.get("fill") for r in rects[:-1]}) == 1
    assert rects[-1].get("fill") != rects[0].get("fill")
    assert float(rects[3].get("height", "0")) == 2 * float(rects[2].get("height", "0"))


def test_the_tallest_total_clears_the_legend() -> None:
    """The total over the highest bar is written above it; with a legend on top it used to
    touch the legend's names (the axis ends exactly at a round total)."""
    svg = bar_chart([Bar("пн", (60, 40)), Bar("вт", (10, 5))], series=("граждане", "датчики"),
                    unit="обращений")  # fmt: skip
    texts = list(ET.fromstring(svg).iter(f"{NS}text"))
    legend_bottom = max(float(t.get("y", "0")) for t in texts if t.text == "датчики")
    total = next(t for t in texts if t.text == "100" and t.get("text-anchor") == "middle")
    font = 11.0  # the chart's font size: a text's glyphs rise this far above its y
    assert float(total.get("y", "0")) - font >= legend_bottom + 4
