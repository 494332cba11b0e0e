"""District boundaries: which district a point lies in, from a GeoJSON file.

The routing file names the file (``district_boundaries``); it is a ``FeatureCollection``
whose features carry ``properties.district`` (a slug listed under the routing file's
``districts``) and a ``Polygon`` or ``MultiPolygon`` geometry, positions as
``[longitude, latitude]`` (RFC 7946).  Holes are honoured.  Containment is plain ray
casting on the coordinates, which is exact enough at a city's scale; a point on an edge
shared by two districts goes to whichever feature comes first in the file.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from appeals._errors import RoutingError

Ring = tuple[tuple[float, float], ...]  # (lon, lat) positions, first == last


@dataclass(frozen=True, slots=True)
class Area:
    """One polygon: an outer ring and its holes, with a bounding box for a quick refusal."""

    outer: Ring
    holes: tuple[Ring, ...] = ()
    bbox: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lons = [p[0] for p in self.outer]
        lats = [p[1] for p in self.outer]
        object.__setattr__(self, "bbox", (min(lons), min(lats), max(lons), max(lats)))

    def contains(self, lon: float, lat: float) -> bool:
        west, south, east, north = self.bbox
        if not (west <= lon <= east and south <= lat <= north):
            return False
        return _inside(self.outer, lon, lat) and not any(_inside(h, lon, lat) for h in self.holes)


@dataclass(frozen=True, slots=True)
class Boundary:
    """A district's slug and the polygons that make it up."""

    district: str
    areas: tuple[Area, ...]

    def contains(self, lon: float, lat: float) -> bool:
        return any(a.contains(lon, lat) for a in self.areas)


@dataclass(frozen=True, slots=True)
class DistrictMap:
    """Every district's boundary; :meth:`locate` answers which one holds a point."""

    boundaries: tuple[Boundary, ...] = ()

    def outline(self, district: str) -> tuple[tuple[float, float], ...]:
        """The largest polygon's outer ring of ``district`` as (lat, lon) corners, for a
        map; empty when it has no boundary."""
        for boundary in self.boundaries:
            if boundary.district == district and boundary.areas:
                biggest = max(boundary.areas, key=lambda a: _extent(a.bbox))
                return tuple((lat, lon) for lon, lat in biggest.outer)
        return ()

    def locate(self, lat: float, lon: float) -> str | None:
        """The slug of the first district whose boundary holds the point, else None."""
        for boundary in self.boundaries:
            if boundary.contains(lon, lat):
                return boundary.district
        return None


def _extent(bbox: tuple[float, float, float, float]) -> float:
    return (bbox[2] - bbox[0]) * (bbox[3] - bbox[1])


def _inside(ring: Ring, x: float, y: float) -> bool:
    """Ray casting: a ray from the point crosses the ring's edges an odd number of times."""
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def parse_districts(text: str, *, source: str, districts: Collection[str]) -> DistrictMap:
    """Validate a GeoJSON document of district boundaries; :class:`RoutingError` names the
    first bad place (``features[2].geometry.coordinates[0]``) in ``source``."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise RoutingError(source, "file", f"not valid JSON: {exc}") from exc
    return _Reader(source, districts).collection(doc)


class _Reader:
    def __init__(self, source: str, districts: Collection[str]) -> None:
        self.source = source
        self.districts = districts

    def fail(self, where: str, message: str) -> RoutingError:
        return RoutingError(self.source, where, message)

    def collection(self, doc: object) -> DistrictMap:
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            raise self.fail(
                "top level", 'expected a GeoJSON object with "type": "FeatureCollection"'
            )
        features = doc.get("features")
        if not isinstance(features, list) or not features:
            raise self.fail("features", "expected a non-empty list of features")
        boundaries: list[Boundary] = []
        for i, feature in enumerate(features):
            boundary = self.feature(feature, f"features[{i}]")
            if any(b.district == boundary.district for b in boundaries):
                raise self.fail(
                    f"features[{i}].properties.district",
                    f"{boundary.district!r} has a boundary already (use a MultiPolygon)",
                )
            boundaries.append(boundary)
        return DistrictMap(tuple(boundaries))

    def feature(self, feature: object, where: str) -> Boundary:
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise self.fail(where, 'expected an object with "type": "Feature"')
        properties = feature.get("properties")
        slug = properties.get("district") if isinstance(properties, dict) else None
        if not isinstance(slug, str) or not slug:
            raise self.fail(f"{where}.properties.district", "missing: the district's slug")
        if slug not in self.districts:
            raise self.fail(
                f"{where}.properties.district",
                f"{slug!r} is not one of the routing file's districts",
            )
        geometry = feature.get("geometry")
        gwhere = f"{where}.geometry"
        if not isinstance(geometry, dict):
            raise self.fail(gwhere, "expected a Polygon or MultiPolygon")
        kind, coordinates = geometry.get("type"), geometry.get("coordinates")
        areas: tuple[Area, ...]
        if kind == "Polygon":
            areas = (self.polygon(coordinates, f"{gwhere}.coordinates"),)
        elif kind == "MultiPolygon":
            if not isinstance(coordinates, list) or not coordinates:
                raise self.fail(f"{gwhere}.coordinates", "expected a non-empty list of polygons")
            areas = tuple(
                self.polygon(p, f"{gwhere}.coordinates[{j}]") for j, p in enumerate(coordinates)
            )
        else:
            raise self.fail(f"{gwhere}.type", f"expected Polygon or MultiPolygon, got {kind!r}")
        return Boundary(slug, areas)

    def polygon(self, value: object, where: str) -> Area:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a list of linear rings (outer ring, then holes)")
        rings = [self.ring(r, f"{where}[{k}]") for k, r in enumerate(value)]
        return Area(rings[0], tuple(rings[1:]))

    def ring(self, value: object, where: str) -> Ring:
        if not isinstance(value, list) or len(value) < 4:
            raise self.fail(where, "a linear ring needs at least 4 positions")
        ring = tuple(self.position(p, f"{where}[{n}]") for n, p in enumerate(value))
        if ring[0] != ring[-1]:
            raise self.fail(where, "a linear ring must end where it starts")
        return ring

    def position(self, value: object, where: str) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) not in (2, 3) or not _numbers(value):
            raise self.fail(where, "expected [longitude, latitude]")
        lon, lat = float(value[0]), float(value[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise self.fail(where, f"[{lon:g}, {lat:g}] is not [longitude, latitude]")
        return lon, lat


def _numbers(values: Sequence[object]) -> bool:
    return all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )
