"""Reading a map back from its SVG: where each marker was drawn and how far it reaches."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET

_TRANSLATE = re.compile(r"translate\(([-\d.]+)[ ,]([-\d.]+)\)")


def map_svg(html: str) -> ET.Element:
    """The first ``<svg class="map">`` in ``html``, parsed."""
    match = re.search(r'<svg[^>]*class="map".*?</svg>', html, re.S)
    assert match, "no map in the page"
    return ET.fromstring(match.group(0))


def markers(svg: ET.Element) -> list[tuple[float, float, float]]:
    """(x, y, r) of every marker: its centre and its shape's farthest reach from it."""
    out = []
    for g in svg.iter("g"):
        if g.get("class") != "marker":
            continue
        found = _TRANSLATE.fullmatch(g.get("transform", ""))
        assert found, g.get("transform")
        x, y = float(found.group(1)), float(found.group(2))
        reach = 0.0
        for shape in g:
            if shape.tag == "circle":
                reach = max(reach, float(shape.get("r", "0")))
            elif shape.tag == "polygon":
                for pair in shape.get("points", "").split():
                    px, py = map(float, pair.split(","))
                    reach = max(reach, math.hypot(px, py))
        assert reach > 0, "a marker without a shape"
        out.append((x, y, reach))
    return out


def overlapping(found: list[tuple[float, float, float]]) -> list[tuple[int, int]]:
    """Pairs of markers whose centres are closer than their radii together."""
    return [
        (i, j)
        for (i, a), (j, b) in itertools.combinations(enumerate(found), 2)
        if math.hypot(a[0] - b[0], a[1] - b[1]) < a[2] + b[2]
    ]
