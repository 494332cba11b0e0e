"""An inline SVG map of the city drawn from what the city itself knows: its streets (lines
through the intersections its devices name), its districts (the area their devices cover,
with their names) and markers for devices and incidents, moved apart where they would
hide each other, with a legend and a scale bar.  For the report and the operators' console.

No tiles, nothing fetched, no JavaScript; hovering a marker shows its ``<title>``.  Each
marker is a ``<g class="marker" transform="translate(x y)">`` around its shape, so a test
or a page can find where it was drawn; a marker or an area with an ``href`` is a link
(``<a href>`` around it), which is how the console ties the map to its appeals and queue.
A district's real boundary (``Area.outline``) is drawn cut to the map's frame; without one,
the area its points cover.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape

from citypulse._records import Device
from citypulse.render._charts import FONT
from citypulse.render._layout import (
    Point,
    Street,
    centroid,
    declutter,
    padded_hull,
)

#: Marker shapes; a legend key may also be ``street``, ``area`` or ``leader``.
SHAPES = ("circle", "square", "triangle", "diamond")
#: Device kind -> marker shape, colour and radius, alike on every map; in this order
#: devices keep their places (a later kind's marker moves aside).
DEVICE_STYLE = {
    "traffic_light": ("circle", "#475569", 5.0),
    "ecology": ("triangle", "#059669", 6.0),
    "parking": ("diamond", "#7c3aed", 5.5),
    "camera": ("square", "#2563eb", 3.5),
}
_OTHER_DEVICE = ("circle", "#64748b", 4.0)  # a kind this table does not know yet
_KEY_SHAPES = (*SHAPES, "street", "area", "leader")
_WORDS = {
    "m": ("м", "m"),
    "km": ("км", "km"),
    "north": ("С", "N"),
    "map": ("карта", "map"),
    "empty": ("Нет устройств с координатами.", "No device has coordinates."),
}
#: Corners of each polygon shape for a marker of size 1 (a circle's radius).
_CORNERS = {
    "square": ((-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)),
    "triangle": ((0.0, -1.2), (1.05, 0.65), (-1.05, 0.65)),
    "diamond": ((0.0, -1.25), (1.25, 0.0), (0.0, 1.25), (-1.25, 0.0)),
}
_PAD = 40  # pixels between the drawing and the map's edge
_STREET_OVERHANG = 18  # a street runs on this far past its last crossing
_LABEL_CHAR_W = 5.8  # a generous width of one character of a 10.5 px street name
_KEY_CHAR_W = 7.0  # and of a 12 px legend entry (Cyrillic runs wider than Latin)


@dataclass(frozen=True, slots=True)
class MapPoint:
    """A marker at (``lat``, ``lon``): ``size`` is its radius in pixels, ``label`` a short
    text drawn inside it (an incident's number), ``stroke`` its outline."""

    lat: float
    lon: float
    title: str
    shape: str = "circle"
    color: str = "#64748b"
    size: float = 4.0
    label: str = ""
    stroke: str = "#fff"
    text_color: str = "#fff"
    href: str = ""

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown marker shape {self.shape!r}")
        if not self.size > 0:
            raise ValueError("a marker's size must be positive")

    @property
    def radius(self) -> float:
        """How far from its centre the marker reaches, outline included."""
        corners = _CORNERS.get(self.shape, ((1.0, 0.0),))
        return self.size * max(math.hypot(x, y) for x, y in corners) + 0.5


@dataclass(frozen=True, slots=True)
class Area:
    """A named area (a district): its ``outline`` (a boundary, (lat, lon) corners) cut to
    the map's frame when given, else the padded convex hull of its ``points``; the map's
    extent follows ``points`` only, so a large district does not shrink the city."""

    name: str
    points: tuple[Point, ...]  # (lat, lon)
    color: str = "#64748b"
    outline: tuple[Point, ...] = ()
    href: str = ""


@dataclass(frozen=True, slots=True)
class MapKey:
    """One legend entry: a marker of one of :data:`SHAPES`, or ``street``, ``area`` or
    ``leader`` (the line from a moved marker to its place)."""

    label: str
    shape: str = "circle"
    color: str = "#64748b"
    stroke: str = "#fff"

    def __post_init__(self) -> None:
        if self.shape not in _KEY_SHAPES:
            raise ValueError(f"unknown legend shape {self.shape!r}")


def device_style(kind: str) -> tuple[str, str, float]:
    """The marker of a device of ``kind``: shape, colour, radius (a grey circle for a kind
    :data:`DEVICE_STYLE` does not name)."""
    return DEVICE_STYLE.get(kind, _OTHER_DEVICE)


def in_kind_order(devices: Iterable[Device]) -> list[Device]:
    """``devices`` in :data:`DEVICE_STYLE`'s order of kinds (unknown kinds last), by id
    within a kind: the order in which their markers keep their places."""
    kinds = list(DEVICE_STYLE)

    def rank(d: Device) -> tuple[int, str]:
        kind = d.kind.value
        return (kinds.index(kind) if kind in kinds else len(kinds), d.id)

    return sorted(devices, key=rank)


def device_map(
    points: Sequence[MapPoint],
    *,
    streets: Sequence[Street] = (),
    areas: Sequence[Area] = (),
    keys: Sequence[MapKey] = (),
    locale: str = "ru",
    width: int = 920,
    height: int | None = None,
) -> str:
    """The map as one ``<svg>``: ``areas`` under ``streets`` under the ``points``.

    Markers keep their place in the order given; a later one that would overlap an earlier
    one is moved to the nearest free spot and tied to its place by a thin line.  The
    height follows the city's shape unless given; ``keys`` make the legend below it.
    """
    word = _words(locale)
    spots = [(p.lat, p.lon) for p in points]
    spots += [q for s in streets for q in s.points]
    spots += [q for a in areas for q in a.points]
    if not spots:
        return f'<p class="muted">{escape(word("empty"))}</p>'
    project, map_h, scale = _projection(spots, width, height)
    wanted = [(*project(p.lat, p.lon), p.radius) for p in points]
    centres = declutter(wanted)
    obstacles = [(x, y, r) for (x, y), (_, _, r) in zip(centres, wanted, strict=True)]
    legend, legend_h = _legend(keys, width, map_h)
    out = [
        f'<svg viewBox="0 0 {width} {map_h + legend_h}" class="map" role="img" '
        f'aria-label="{escape(word("map"))}" {FONT} font-size="11">',
        f'<rect width="{width}" height="{map_h}" fill="#f8fafc" rx="8"/>',
    ]
    area_labels = _areas(out, areas, project, (width, map_h))
    lines = [[project(lat, lon) for lat, lon in s.points] for s in streets]
    _streets(out, streets, lines, obstacles)
    for name, (x, y), color in area_labels:
        out.append(_label_at(name, _area_label_spot(x, y, name, obstacles), color))
    for (x, y, _), (cx, cy) in zip(wanted, centres, strict=True):
        if math.hypot(cx - x, cy - y) > 0.5:
            out.append(
                f'<line class="leader" x1="{x:.1f}" y1="{y:.1f}" x2="{cx:.1f}" y2="{cy:.1f}" '
                'stroke="#475569" stroke-width="1" stroke-opacity="0.8"/>'
                f'<circle class="anchor" cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="#475569"/>'
            )
    for p, (cx, cy) in zip(points, centres, strict=True):
        out.append(_marker(p, cx, cy))
    out.extend(_scale_bar(map_h, scale, word))
    out.extend(_north(width, word))
    out.extend(legend)
    out.append("</svg>")
    return "".join(out)


def _words(locale: str) -> Callable[[str], str]:
    index = 0 if locale == "ru" else 1
    return lambda key: _WORDS[key][index]


def _projection(
    spots: Sequence[Point], width: int, height: int | None
) -> tuple[Callable[[float, float], Point], int, float]:
    """Equirectangular, true to scale locally; returns the projection, the map's height
    and its scale in pixels per degree of latitude."""
    lat0 = sum(p[0] for p in spots) / len(spots)
    kx = math.cos(math.radians(lat0))
    xs = [lon * kx for _, lon in spots]
    ys = [lat for lat, _ in spots]
    span_x = max(max(xs) - min(xs), 1e-4)
    span_y = max(max(ys) - min(ys), 1e-4)
    if height is None:
        height = round((width - 2 * _PAD) * span_y / span_x) + 2 * _PAD
        height = min(max(height, 320), 900)
    scale = min((width - 2 * _PAD) / span_x, (height - 2 * _PAD) / span_y)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    w, h = width, height

    def project(lat: float, lon: float) -> Point:
        return w / 2 + (lon * kx - cx) * scale, h / 2 - (lat - cy) * scale

    return project, height, scale


def _areas(
    out: list[str],
    areas: Sequence[Area],
    project: Callable[[float, float], Point],
    frame: Point,
) -> list[tuple[str, Point, str]]:
    labels = []
    # Boundaries run on past the frame: clipped there rather than cut, so that the frame's
    # edge is not drawn as a boundary; the label goes in the visible part.
    clip = f"map-frame-{frame[0]:.0f}x{frame[1]:.0f}"
    out.append(
        f'<clipPath id="{clip}"><rect width="{frame[0]:.0f}" height="{frame[1]:.0f}"/></clipPath>'
        f'<g clip-path="url(#{clip})">'
    )
    for a in areas:
        if a.outline:
            shape = [project(lat, lon) for lat, lon in a.outline]
            visible = _clip(shape, *frame)
        else:
            shape = visible = padded_hull([project(lat, lon) for lat, lon in a.points], 16)
        if len(visible) < 3:
            continue
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in shape) + " Z"
        drawn = (
            f'<path class="area" d="{path}" fill="{a.color}" fill-opacity="0.09" '
            f'stroke="{a.color}" stroke-opacity="0.55" stroke-width="1.3" '
            f'stroke-dasharray="6 4" stroke-linejoin="round"><title>{escape(a.name)}</title></path>'
        )
        out.append(_link(a.href, drawn))
        labels.append((a.name, centroid(visible), a.color))
    out.append("</g>")
    return labels


def _clip(polygon: list[Point], width: float, height: float) -> list[Point]:
    """``polygon`` cut to the frame (Sutherland-Hodgman: convex frame, any polygon)."""
    edges: list[Callable[[Point], float]] = [
        lambda p: p[0],
        lambda p: width - p[0],
        lambda p: p[1],
        lambda p: height - p[1],
    ]
    shape = polygon
    for inside in edges:
        if not shape:
            break
        kept: list[Point] = []
        for a, b in zip(shape, shape[1:] + shape[:1], strict=True):
            da, db = inside(a), inside(b)
            if da >= 0:
                kept.append(a)
            if (da >= 0) != (db >= 0):
                t = da / (da - db)
                kept.append((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t))
        shape = kept
    return shape


def _link(href: str, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def _streets(
    out: list[str],
    streets: Sequence[Street],
    lines: list[list[Point]],
    obstacles: list[tuple[float, float, float]],
) -> None:
    """Casings first and then the white cores, so that crossings merge as on a map."""
    drawn = [_overhang(line) for line in lines]
    for s, line in zip(streets, drawn, strict=True):
        out.append(
            f'<polyline class="street" points="{_pts(line)}" fill="none" stroke="#cbd5e1" '
            'stroke-width="9" stroke-linecap="round" stroke-linejoin="round">'
            f"<title>{escape(s.name)}</title></polyline>"
        )
    for line in drawn:
        out.append(
            f'<polyline class="street-core" points="{_pts(line)}" fill="none" stroke="#fff" '
            'stroke-width="6" stroke-linecap="round" stroke-linejoin="round"/>'
        )
    taken = list(obstacles)
    for s, line in zip(streets, lines, strict=True):
        spot = _street_label_spot(s.name, line, taken)
        if spot is None:
            continue
        (x, y), angle = spot
        taken.append((x, y, len(s.name) * _LABEL_CHAR_W / 2))
        out.append(
            f'<text class="street-name" x="{x:.1f}" y="{y:.1f}" dy="0.35em" '
            f'transform="rotate({angle:.1f} {x:.1f} {y:.1f})" text-anchor="middle" '
            'font-size="10.5" fill="#475569" stroke="#fff" stroke-width="3" '
            f'paint-order="stroke">{escape(s.name)}</text>'
        )


def _overhang(line: list[Point]) -> list[Point]:
    if len(line) < 2:
        return line

    def beyond(a: Point, b: Point) -> Point:
        d = math.hypot(b[0] - a[0], b[1] - a[1]) or 1.0
        k = _STREET_OVERHANG / d
        return b[0] + (b[0] - a[0]) * k, b[1] + (b[1] - a[1]) * k

    return [beyond(line[1], line[0]), *line, beyond(line[-2], line[-1])]


def _street_label_spot(
    name: str, line: list[Point], taken: list[tuple[float, float, float]]
) -> tuple[Point, float] | None:
    """The middle of the segment where the name is farthest from markers and labels."""
    half = len(name) * _LABEL_CHAR_W / 2
    best: tuple[float, Point, float] | None = None
    for a, b in itertools.pairwise(line):
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        if length < 2 * half + 12:
            continue
        ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
        mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        ends = ((mid[0] - ux * half, mid[1] - uy * half), (mid[0] + ux * half, mid[1] + uy * half))
        room = min((_to_segment(q, *ends) - r for *q, r in taken), default=math.inf)
        if best is None or room > best[0] + 0.5:
            angle = math.degrees(math.atan2(uy, ux))
            if angle > 90:
                angle -= 180
            elif angle <= -90:
                angle += 180
            best = (room, mid, angle)
    return None if best is None else (best[1], best[2])


def _area_label_spot(
    x: float, y: float, name: str, taken: list[tuple[float, float, float]]
) -> Point:
    """Near the area's centre, where the name is farthest from markers."""
    half = len(name) * 8.5 / 2
    best = (-math.inf, (x, y))
    for dy in (0, -26, 26, -52, 52):
        for dx in (0, -40, 40):
            ends = ((x + dx - half, y + dy), (x + dx + half, y + dy))
            room = min((_to_segment(q, *ends) - r for *q, r in taken), default=math.inf)
            if room > best[0] + 2:
                best = (room, (x + dx, y + dy))
    return best[1]


def _to_segment(q: Sequence[float], a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = ((q[0] - a[0]) * dx + (q[1] - a[1]) * dy) / ((dx * dx + dy * dy) or 1.0)
    t = min(max(t, 0.0), 1.0)
    return math.hypot(q[0] - a[0] - t * dx, q[1] - a[1] - t * dy)


def _label_at(name: str, at: Point, color: str) -> str:
    return (
        f'<text class="area-name" x="{at[0]:.1f}" y="{at[1]:.1f}" dy="0.35em" '
        f'text-anchor="middle" font-size="15" font-weight="700" fill="{color}" '
        f'fill-opacity="0.9" stroke="#fff" stroke-width="4" paint-order="stroke">'
        f"{escape(name)}</text>"
    )


def _pts(line: Sequence[Point]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in line)


def _shape(shape: str, size: float, fill: str, stroke: str) -> str:
    common = f'fill="{fill}" stroke="{stroke}" stroke-width="1"'
    corners = _CORNERS.get(shape)
    if corners is None:
        return f'<circle r="{size:g}" {common}/>'
    pts = " ".join(f"{dx * size:.2f},{dy * size:.2f}" for dx, dy in corners)
    return f'<polygon points="{pts}" {common}/>'


def _marker(p: MapPoint, x: float, y: float) -> str:
    text = ""
    if p.label:
        font = min(max(p.size * 1.2, 8.0), 13.0)
        text = (
            f'<text dy="0.35em" text-anchor="middle" font-size="{font:.1f}" font-weight="700" '
            f'fill="{p.text_color}">{escape(p.label)}</text>'
        )
    return _link(
        p.href,
        f'<g class="marker" transform="translate({x:.1f} {y:.1f})">'
        f"<title>{escape(p.title)}</title>"
        f"{_shape(p.shape, p.size, p.color, p.stroke)}{text}</g>",
    )


def _legend(keys: Sequence[MapKey], width: int, top: int) -> tuple[list[str], int]:
    """Legend entries in rows under the map; returns the drawing and its height."""
    if not keys:
        return [], 0
    out: list[str] = []
    x, row = 12.0, 0
    for key in keys:
        room = 24 + len(key.label) * _KEY_CHAR_W + 20
        if x + room > width - 12 and x > 12:
            x, row = 12.0, row + 1
        y = top + 18 + row * 22
        out.append(f'<g class="key" transform="translate({x + 8:.1f} {y:.1f})">')
        out.append(_key_symbol(key))
        out.append(
            f'<text x="16" dy="0.35em" font-size="12" fill="#374151">{escape(key.label)}</text></g>'
        )
        x += room
    return out, 18 + (row + 1) * 22


def _key_symbol(key: MapKey) -> str:
    if key.shape == "street":
        return (
            '<line x1="-8" x2="8" stroke="#cbd5e1" stroke-width="9" stroke-linecap="round"/>'
            '<line x1="-8" x2="8" stroke="#fff" stroke-width="6" stroke-linecap="round"/>'
        )
    if key.shape == "area":
        return (
            f'<rect x="-8" y="-6" width="16" height="12" rx="2" fill="{key.color}" '
            f'fill-opacity="0.09" stroke="{key.color}" stroke-opacity="0.55" '
            'stroke-dasharray="4 2"/>'
        )
    if key.shape == "leader":
        return (
            '<line x1="-8" y1="4" x2="6" y2="-4" stroke="#475569" stroke-width="1"/>'
            '<circle cx="-8" cy="4" r="1.8" fill="#475569"/>'
        )
    return _shape(key.shape, 5.0, key.color, key.stroke)


def _scale_bar(map_h: int, scale: float, word: Callable[[str], str]) -> list[str]:
    """A scale bar: ``scale`` is pixels per degree of latitude (~111.2 km)."""
    px_per_m = scale / 111_200
    metres = next(m for m in (50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 20_000)
                  if m * px_per_m >= 60)  # fmt: skip
    bar = metres * px_per_m
    x0, y0 = 20, map_h - 18
    label = f"{metres // 1000} {word('km')}" if metres >= 1000 else f"{metres} {word('m')}"
    return [
        f'<line x1="{x0}" x2="{x0 + bar:.1f}" y1="{y0}" y2="{y0}" stroke="#334155" '
        'stroke-width="2"/>',
        f'<text x="{x0 + bar / 2:.1f}" y="{y0 - 6}" text-anchor="middle" fill="#334155">'
        f"{label}</text>",
    ]


def _north(width: int, word: Callable[[str], str]) -> list[str]:
    return [
        f'<text x="{width - 20}" y="26" text-anchor="middle" fill="#334155" '
        f'font-weight="700">{word("north")}</text>',
        f'<path d="M{width - 20},30 l-5,12 l5,-4 l5,4 z" fill="#334155"/>',
    ]
