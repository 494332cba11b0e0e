"""An inline SVG map of the city's devices, drawn from their coordinates alone (no tiles,
nothing fetched), for the report and the pages that show where things are.

Plain strings, no dependencies and no JavaScript; hovering a point shows its ``<title>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from citypulse.render._charts import FONT


@dataclass(frozen=True, slots=True)
class MapPoint:
    lat: float
    lon: float
    title: str
    shape: str = "circle"  # circle, square, triangle, diamond
    color: str = "#64748b"
    size: float = 4.0
    label: str = ""
    ring: str = ""  # colour of a highlight ring, empty for none


def device_map(
    points: Sequence[MapPoint],
    *,
    areas: Sequence[tuple[float, float, str]] = (),
    width: int = 920,
    height: int = 520,
) -> str:
    """Points by latitude/longitude (equirectangular, true to scale locally) with a scale
    bar; ``areas`` are (lat, lon, name) labels drawn faintly underneath (districts)."""
    if not points:
        return '<p class="muted">No device has coordinates.</p>'
    lat0 = sum(p.lat for p in points) / len(points)
    kx = math.cos(math.radians(lat0))
    xs = [p.lon * kx for p in points]
    ys = [p.lat for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-4)
    pad = 36
    scale = min((width - 2 * pad) / max(max(xs) - min(xs), span * 0.3),
                (height - 2 * pad) / max(max(ys) - min(ys), span * 0.3))  # fmt: skip
    cx = (max(xs) + min(xs)) / 2
    cy = (max(ys) + min(ys)) / 2

    def project(p: MapPoint) -> tuple[float, float]:
        return width / 2 + (p.lon * kx - cx) * scale, height / 2 - (p.lat - cy) * scale

    out = [
        f'<svg viewBox="0 0 {width} {height}" class="map" role="img" aria-label="map" '
        f'{FONT} font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#f8fafc" rx="8"/>',
    ]
    out.extend(_grid(width, height, scale))
    for lat, lon, name in areas:
        x, y = project(MapPoint(lat, lon, name))
        out.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" font-size="22" '
            f'font-weight="700" fill="#cbd5e1" letter-spacing="2">{escape(name.upper())}</text>'
        )
    for p in sorted(points, key=lambda p: bool(p.ring)):
        x, y = project(p)
        title = f"<title>{escape(p.title)}</title>"
        if p.ring:
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{p.size + 7}" fill="{p.ring}" '
                f'fill-opacity="0.15" stroke="{p.ring}" stroke-width="2">{title}</circle>'
            )
        out.append(_marker(p, x, y, title))
        if p.label:
            out.append(
                f'<text x="{x + p.size + 8:.1f}" y="{y - p.size - 4:.1f}" font-weight="600" '
                f'fill="{p.ring or "#111827"}">{escape(p.label)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _marker(p: MapPoint, x: float, y: float, title: str) -> str:
    s = p.size
    common = f'fill="{p.color}" stroke="#fff" stroke-width="1"'
    corners = {
        "square": [(-s, -s), (s, -s), (s, s), (-s, s)],
        "triangle": [(0.0, -1.3 * s), (1.2 * s, s), (-1.2 * s, s)],
        "diamond": [(0.0, -1.3 * s), (1.3 * s, 0.0), (0.0, 1.3 * s), (-1.3 * s, 0.0)],
    }.get(p.shape)
    if corners is None:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s}" {common}>{title}</circle>'
    pts = " ".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in corners)
    return f'<polygon points="{pts}" {common}>{title}</polygon>'


def _grid(width: int, height: int, scale: float) -> list[str]:
    """A scale bar: ``scale`` is pixels per degree of latitude (~111.2 km)."""
    px_per_m = scale / 111_200
    metres = next(m for m in (50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000)
                  if m * px_per_m >= 60)  # fmt: skip
    bar = metres * px_per_m
    x0, y0 = 20, height - 20
    label = f"{metres // 1000} km" if metres >= 1000 else f"{metres} m"
    return [
        f'<line x1="{x0}" x2="{x0 + bar:.1f}" y1="{y0}" y2="{y0}" stroke="#334155" '
        'stroke-width="2"/>',
        f'<text x="{x0 + bar / 2:.1f}" y="{y0 - 6}" text-anchor="middle" fill="#334155">'
        f"{label}</text>",
        f'<text x="{width - 20}" y="26" text-anchor="middle" fill="#334155" '
        'font-weight="700">N</text>',
        f'<path d="M{width - 20},30 l-5,12 l5,-4 l5,4 z" fill="#334155"/>',
    ]
