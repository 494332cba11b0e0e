"""The map's geometry, apart from drawing it: streets from the crossings devices name,
convex hulls for districts, and placing markers so that none hides another.

Plain functions on (x, y) pairs or (lat, lon) pairs; no drawing, no I/O.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from citypulse._records import Device, DeviceKind

Point = tuple[float, float]

#: Free space kept between two markers' edges, in pixels.
MARKER_GAP = 1.5


@dataclass(frozen=True, slots=True)
class Crossing:
    """A place where named streets meet: an intersection the city knows."""

    lat: float
    lon: float
    streets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Street:
    """A named street as a line through its crossings, ``points`` (lat, lon) in order."""

    name: str
    points: tuple[Point, ...]


def crossings_of(devices: Iterable[Device]) -> tuple[Crossing, ...]:
    """The intersections ``devices`` name, one per ``Device.intersection``.

    Its place is its traffic light's (else the mean of its devices, whose approach
    cameras sit around it); its streets come from a device's ``main_street`` and
    ``cross_street`` attributes, else from an address ``A / B`` (a camera's
    ``B, подход к A / B`` too).  Intersections without two street names are left out.
    """
    groups: dict[str, list[Device]] = defaultdict(list)
    for d in devices:
        if d.intersection and d.lat is not None and d.lon is not None:
            groups[d.intersection].append(d)
    out = []
    for key in sorted(groups):
        members = groups[key]
        lights = [d for d in members if d.kind is DeviceKind.TRAFFIC_LIGHT]
        at = lights or members
        streets = next((s for s in map(_street_names, lights + members) if len(s) >= 2), ())
        if streets:
            lat = sum(d.lat for d in at if d.lat is not None) / len(at)
            lon = sum(d.lon for d in at if d.lon is not None) / len(at)
            out.append(Crossing(lat, lon, streets))
    return tuple(out)


def _street_names(d: Device) -> tuple[str, ...]:
    main, cross = d.attributes.get("main_street"), d.attributes.get("cross_street")
    if isinstance(main, str) and isinstance(cross, str) and main.strip() and cross.strip():
        return (main.strip(), cross.strip())
    address = d.address.rsplit("подход к ", 1)[-1]
    names = tuple(part.strip() for part in address.split(" / ") if part.strip())
    return names if len(names) >= 2 else ()


def streets_through(crossings: Iterable[Crossing]) -> tuple[Street, ...]:
    """Every street named at two or more crossings, as a line through them ordered along
    the street (by their principal axis, west to east or south to north), by name."""
    spots: dict[str, set[Point]] = defaultdict(set)
    for c in crossings:
        for name in c.streets:
            spots[name].add((c.lat, c.lon))
    return tuple(
        Street(name, order_along(sorted(points)))
        for name, points in sorted(spots.items())
        if len(points) >= 2
    )


def order_along(points: Sequence[Point]) -> tuple[Point, ...]:
    """``points`` (lat, lon) in order along the line they lie on: sorted by their
    projection on the principal axis, which runs west to east, or south to north when
    the line is closer to north-south."""
    if len(points) < 2:
        return tuple(points)
    kx = math.cos(math.radians(sum(p[0] for p in points) / len(points)))
    xs = [p[1] * kx for p in points]
    ys = [p[0] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy)
    ux, uy = math.cos(angle), math.sin(angle)
    along_x = abs(ux) >= abs(uy)
    if (along_x and ux < 0) or (not along_x and uy < 0):
        ux, uy = -ux, -uy
    ranked = sorted(range(len(points)), key=lambda i: (xs[i] - mx) * ux + (ys[i] - my) * uy)
    return tuple(points[i] for i in ranked)


def convex_hull(points: Iterable[Point]) -> list[Point]:
    """The convex hull of (x, y) ``points``, counter-clockwise (Andrew's monotone chain)."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    upper: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def padded_hull(points: Iterable[Point], pad: float) -> list[Point]:
    """The hull of ``points`` grown by ``pad`` pixels all round (a circle of 16 points
    about each), so that markers at its corners sit inside it."""
    ring = [(math.cos(2 * math.pi * k / 16), math.sin(2 * math.pi * k / 16)) for k in range(16)]
    return convex_hull((x + pad * cx, y + pad * cy) for x, y in points for cx, cy in ring)


def centroid(polygon: Sequence[Point]) -> Point:
    """The centre of mass of a simple polygon (its vertices' mean when it has no area)."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(polygon, [*polygon[1:], *polygon[:1]], strict=True):
        a = x0 * y1 - x1 * y0
        area += a
        cx += (x0 + x1) * a
        cy += (y0 + y1) * a
    if abs(area) < 1e-9:
        n = max(len(polygon), 1)
        return sum(p[0] for p in polygon) / n, sum(p[1] for p in polygon) / n
    return cx / (3 * area), cy / (3 * area)


def declutter(wanted: Sequence[tuple[float, float, float]]) -> list[Point]:
    """Centres for markers wanted at (x, y) with radius r, so that no two overlap.

    Markers are placed in the given order: the first keep their place, a later one that
    would overlap a placed one moves to the nearest free spot on rings around its place
    (starting up and to the right, the side labels are read from).
    """
    placed: list[tuple[float, float, float]] = []
    # A grid of cells as wide as the largest clearance: a marker can only touch markers
    # in its own cell and the eight around it, so a map of hundreds stays fast.
    cell = max((2 * r + MARKER_GAP for _, _, r in wanted), default=1.0)
    grid: dict[tuple[int, int], list[tuple[float, float, float]]] = {}

    def near(p: Point) -> list[tuple[float, float, float]]:
        i, j = math.floor(p[0] / cell), math.floor(p[1] / cell)
        return [q for di in (-1, 0, 1) for dj in (-1, 0, 1) for q in grid.get((i + di, j + dj), ())]

    for x, y, r in wanted:
        spot = next(p for p in _spots(x, y, r) if _free(p, r, near(p)))
        placed.append((spot[0], spot[1], r))
        key = (math.floor(spot[0] / cell), math.floor(spot[1] / cell))
        grid.setdefault(key, []).append(placed[-1])
    return [(x, y) for x, y, _ in placed]


def _spots(x: float, y: float, r: float) -> Iterable[Point]:
    yield x, y
    step = r + MARKER_GAP
    k = 0
    while True:  # rings grow without end, so a free spot is always found
        k += 1
        n = 6 * k
        for j in range(n):
            angle = -math.pi / 4 + 2 * math.pi * j / n
            yield x + k * step * math.cos(angle), y + k * step * math.sin(angle)


def _free(p: Point, r: float, placed: Sequence[tuple[float, float, float]]) -> bool:
    return all(math.hypot(p[0] - qx, p[1] - qy) >= r + qr + MARKER_GAP for qx, qy, qr in placed)
