"""Citizens' background and surge reports as numpy arrays: weeks of them in a moment.

Arrivals are a Poisson process whose rate is constant within each clock hour
(:mod:`simulator._citizen_rates`), so a cell's count in an hour is one Poisson draw and
its times are uniform within the hour: exact for that rate, and vectorised over every
service × district × hour at once.  A surge adds ``(multiplier - 1)`` times the cell's
rate over its window, so the cell runs at ``multiplier`` times its normal there.

Locations: a background report lies within about 100 m of one of its district's
intersections (the simulator's districts are unions of grid blocks around them); a
surge's extra reports spread normally around the surge's centre.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from simulator._citizen_rates import HOURLY, SERVICE_INDEX, SERVICES, WEEKDAY, HourProfile, Scale
from simulator._citizen_rates import population as district_population
from simulator._citizen_texts import TEXT_COUNT, describe
from simulator._city import City
from simulator._signals import MSK_OFFSET_S
from simulator._surges import Surge

_JITTER_LAT, _JITTER_LON = 0.0009, 0.0015
_M_PER_DEG_LAT = 111_320.0


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


def _anchors(city: City) -> tuple[tuple[str, ...], F64, F64, I32, I32]:
    """Places to put reports near: each district's intersections, grouped by district
    (names, lat, lon, first index per district, count per district)."""
    names: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    first: list[int] = []
    count: list[int] = []
    for d in city.districts:
        members = [i for i in city.intersections if i.district == d.slug]
        first.append(len(names))
        count.append(len(members))
        for i in members:
            names.append(i.name)
            lat.append(i.lat)
            lon.append(i.lon)
    return (
        tuple(names),
        np.asarray(lat),
        np.asarray(lon),
        np.asarray(first, dtype=np.int32),
        np.asarray(count, dtype=np.int32),
    )


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
    names, a_lat, a_lon, a_first, a_count = _anchors(city)
    if np.any(a_count[d_idx] == 0):
        raise ValueError("every district with reports needs at least one intersection")
    anchor = a_first[d_idx] + (rng.random(cell.size) * a_count[d_idx]).astype(np.int32)
    lat = a_lat[anchor] + rng.uniform(-_JITTER_LAT, _JITTER_LAT, cell.size)
    lon = a_lon[anchor] + rng.uniform(-_JITTER_LON, _JITTER_LON, cell.size)
    parts = [(t, s_idx, d_idx, lat, lon, np.zeros(cell.size, np.int32) - 1, anchor)]
    places = list(names)
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
