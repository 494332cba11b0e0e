"""Citizens' background and surge reports as numpy arrays: weeks of them in a moment.

Arrivals are a Poisson process whose rate is constant within each clock hour
(:mod:`simulator._citizen_rates`), so a cell's count in an hour is one Poisson draw and
its times are uniform within the hour: exact for that rate, and vectorised over every
service × district × hour at once.  A surge adds ``(multiplier - 1)`` times the cell's
rate over its window, so the cell runs at ``multiplier`` times its normal there.

Locations: a background report lies anywhere in its district's area, the union of the
grid blocks around its intersections (the points nearer to one of its intersections than
to any other district's), within the box those blocks span (its intersections' extent and
half a grid step beyond); the density falls off from the district's centre as a normal
distribution whose standard deviation per axis is half the box's size (at the box's edge
about 0.6 of the centre's).  Reports keep ``_BORDER_M`` (half of it each side) off the
border between two districts, so that a hand-drawn boundary file near those borders
(appeals' districts.default.geojson for the preset city) puts each in its own district.
A report's place is its nearest intersection.  A surge's extra reports spread normally
around the surge's centre, so only they gather in one spot.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sklearn.neighbors import KDTree

from simulator._citizen_rates import HOURLY, SERVICE_INDEX, SERVICES, WEEKDAY, HourProfile, Scale
from simulator._citizen_rates import population as district_population
from simulator._citizen_texts import TEXT_COUNT, describe
from simulator._city import City
from simulator._signals import MSK_OFFSET_S
from simulator._surges import Surge

_M_PER_DEG_LAT = 111_320.0
#: how much nearer a background report is to its own district's nearest intersection
#: than to another district's (metres): a strip of about half of it each side of a border
_BORDER_M = 180.0


class ReportKind(enum.StrEnum):
    """Why a simulated citizen wrote (the order is the arrays' ``kind`` code)."""

    BACKGROUND = "background"
    SURGE = "surge"
    FAULT_FOLLOW = "fault_follow"

    @property
    def code(self) -> int:
        return _KIND_CODES[self]


_KIND_CODES = {k: i for i, k in enumerate(ReportKind)}
F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True, eq=False)
class ReportArrays:
    """Reports in time order, one array element each.

    ``service`` indexes :data:`SERVICES`, ``district`` the city's districts, ``place``
    :attr:`places`, ``kind`` :class:`ReportKind` (by :attr:`ReportKind.code`),
    ``truth`` the surges given (-1: none), ``text`` a description number.
    """

    t: F64  # epoch seconds
    service: npt.NDArray[np.int16]
    district: npt.NDArray[np.int16]
    lat: F64
    lon: F64
    kind: npt.NDArray[np.int8]
    truth: I32
    text: npt.NDArray[np.int8]
    place: I32
    places: tuple[str, ...]
    districts: tuple[str, ...]  # slugs

    def __len__(self) -> int:
        return int(self.t.size)

    def service_codes(self) -> list[str]:
        codes = np.array([s.code for s in SERVICES], dtype=object)
        return list(codes[self.service])

    def descriptions(self) -> list[str]:
        """Each report's Russian text, as :func:`citizen_reports` gives it."""
        codes = [s.code for s in SERVICES]
        return [
            describe(codes[s], text, self.places[place])
            for s, text, place in zip(
                self.service.tolist(), self.text.tolist(), self.place.tolist(), strict=True
            )
        ]


def _hour_factors(lo: F64, hi: F64, clip_lo: float, clip_hi: float) -> dict[HourProfile, F64]:
    """Per hour bin [lo, hi): the share of a day's rate falling in its part inside
    [clip_lo, clip_hi), per hour profile (weights × weekday / 24 × overlap)."""
    overlap = np.clip(np.minimum(hi, clip_hi) - np.maximum(lo, clip_lo), 0.0, None) / 3600.0
    local = lo + MSK_OFFSET_S
    hour = (local // 3600).astype(np.int64) % 24
    weekday = ((local // 86400).astype(np.int64) + 3) % 7
    day = np.asarray(WEEKDAY)[weekday]
    return {p: np.asarray(w)[hour] * day / 24.0 * overlap for p, w in HOURLY.items()}


def _spread(city: City, d_idx: I32, rng: np.random.Generator) -> tuple[F64, F64, I32]:
    """Background reports' positions over their districts (see the module docstring):
    (lat, lon, index of the nearest intersection in ``city.intersections``)."""
    lat0 = sum(i.lat for i in city.intersections) / len(city.intersections)
    kx = _M_PER_DEG_LAT * math.cos(math.radians(lat0))
    xy = np.array([[i.lat * _M_PER_DEG_LAT, i.lon * kx] for i in city.intersections])
    slug = np.array([i.district for i in city.intersections])
    # the grid step: the median distance to the nearest other intersection
    step = float(np.median(KDTree(xy).query(xy, k=2)[0][:, 1])) if len(xy) > 1 else 400.0
    lat = np.zeros(d_idx.size)
    lon = np.zeros(d_idx.size)
    near = np.zeros(d_idx.size, np.int32)
    for d, district in enumerate(city.districts):
        todo = np.flatnonzero(d_idx == d)
        own = np.flatnonzero(slug == district.slug)
        if todo.size == 0:
            continue
        if own.size == 0:
            raise ValueError("every district with reports needs at least one intersection")
        lo, hi = xy[own].min(axis=0) - step / 2, xy[own].max(axis=0) + step / 2
        centre, sd = (lo + hi) / 2, (hi - lo) / 2
        own_tree = KDTree(xy[own])
        other = np.flatnonzero(slug != district.slug)
        other_tree = KDTree(xy[other]) if other.size else None
        for _ in range(1000):
            if todo.size == 0:
                break
            p = centre + rng.normal(0.0, 1.0, (todo.size, 2)) * sd
            ok = np.all((p >= lo) & (p <= hi), axis=1)
            dist, which = own_tree.query(p)
            if other_tree is not None:
                ok &= other_tree.query(p)[0][:, 0] - dist[:, 0] >= _BORDER_M
            lat[todo[ok]] = p[ok, 0] / _M_PER_DEG_LAT
            lon[todo[ok]] = p[ok, 1] / kx
            near[todo[ok]] = own[which[ok, 0]]
            todo = todo[~ok]
        if todo.size:
            raise ValueError(f"district {district.slug} has no room away from its borders")
    return lat, lon, near


def bulk_reports(
    city: City,
    *,
    start: datetime,
    end: datetime,
    scale: Scale | float = Scale.CITY,
    seed: int = 0,
    surges: Sequence[Surge] = (),
) -> ReportArrays:
    """Background reports of every cell of ``city`` over ``[start, end)`` and the extra
    reports of ``surges``, in time order (see the module docstring)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must carry a UTC offset")
    if end <= start:
        raise ValueError("end must be after start")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 18]))
    t0, t1 = start.timestamp(), end.timestamp()
    lo = np.arange(math.floor(t0 / 3600) * 3600, t1, 3600, dtype=np.float64)
    hi = lo + 3600.0
    n_bins = lo.size
    slugs = tuple(d.slug for d in city.districts)
    people = np.array([district_population(d, scale) for d in city.districts])
    daily = np.array([s.per_100k for s in SERVICES])[:, None] * people[None, :] / 1e5
    factors = _hour_factors(lo, hi, t0, t1)
    per_service = np.stack([factors[s.profile] for s in SERVICES])  # (services, bins)
    lam = daily[:, :, None] * per_service[:, None, :]  # (services, districts, bins)
    counts = rng.poisson(lam).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    s_idx, rest = np.divmod(cell, len(slugs) * n_bins)
    d_idx, b_idx = np.divmod(rest, n_bins)
    b_lo = np.maximum(lo[b_idx], t0)
    b_hi = np.minimum(hi[b_idx], t1)
    t = b_lo + rng.random(cell.size) * (b_hi - b_lo)
    lat, lon, anchor = _spread(city, d_idx.astype(np.int32), rng)
    parts = [(t, s_idx, d_idx, lat, lon, np.zeros(cell.size, np.int32) - 1, anchor)]
    places = [i.name for i in city.intersections]
    for k, surge in enumerate(surges):
        places.append(surge.place)
        f = _hour_factors(lo, hi, max(t0, surge.start.timestamp()), min(t1, surge.end.timestamp()))
        d = slugs.index(surge.district)
        for code in surge.services:
            s = SERVICE_INDEX[code]
            extra = (surge.multiplier - 1.0) * daily[s, d] * f[SERVICES[s].profile]
            n = rng.poisson(extra)
            bins = np.repeat(np.arange(n_bins), n)
            s_lo = np.maximum(np.maximum(lo[bins], t0), surge.start.timestamp())
            s_hi = np.minimum(np.minimum(hi[bins], t1), surge.end.timestamp())
            size = bins.size
            sd_lat = surge.radius_m / 2 / _M_PER_DEG_LAT
            sd_lon = sd_lat / math.cos(math.radians(surge.lat))
            parts.append(
                (
                    s_lo + rng.random(size) * (s_hi - s_lo),
                    np.full(size, s),
                    np.full(size, d),
                    surge.lat + rng.normal(0.0, sd_lat, size),
                    surge.lon + rng.normal(0.0, sd_lon, size),
                    np.full(size, k, np.int32),
                    np.full(size, len(places) - 1, np.int32),
                )
            )
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    order = np.argsort(cols[0], kind="stable")
    t, s_all, d_all, lat, lon, truth, place = (c[order] for c in cols)
    kind = np.where(truth < 0, ReportKind.BACKGROUND.code, ReportKind.SURGE.code)
    return ReportArrays(
        t=t,
        service=s_all.astype(np.int16),
        district=d_all.astype(np.int16),
        lat=lat,
        lon=lon,
        kind=kind.astype(np.int8),
        truth=truth.astype(np.int32),
        text=rng.integers(0, TEXT_COUNT, t.size).astype(np.int8),
        place=place.astype(np.int32),
        places=tuple(places),
        districts=slugs,
    )
