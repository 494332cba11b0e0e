"""Injected surges of citizens' reports: a cell's rate times a multiplier for a while.

A surge is an episode in one district — potholes after a thaw (road damage), a
neighbourhood's smell complaints (air quality), a housing outage (utility outage) — in
which the cell's reports run at ``multiplier`` times the cell's own seasonal normal
(:func:`simulator._citizen_rates.hourly_rate`) from ``start`` to ``end``; the extra
reports cluster around the surge's centre (a normal spread of ``radius_m`` / 2 around
one of the district's intersections).  A surge on a sector block multiplies each of its
services.  Each surge is one record of the citizens' ground truth.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulator._citizen_rates import SERVICES, Scale, daily_rate
from simulator._city import City, Intersection
from simulator._errors import ScenarioError
from simulator._signals import poisson


class SurgeTheme(enum.StrEnum):
    """What the surge is about; each names the services it multiplies."""

    THAW_POTHOLES = "thaw_potholes"
    SMELL = "smell"
    HOUSING_OUTAGE = "housing_outage"

    @property
    def services(self) -> tuple[str, ...]:
        return _THEME_SERVICES[self]


_THEME_SERVICES = {
    SurgeTheme.THAW_POTHOLES: ("road-damage",),
    SurgeTheme.SMELL: ("air-quality",),
    SurgeTheme.HOUSING_OUTAGE: ("utility-outage",),
}


@dataclass(frozen=True, slots=True)
class Surge:
    """One injected surge; ``services`` share a sector block, ``district`` is a slug."""

    id: str
    theme: str  # a SurgeTheme value, or "sector" for a whole sector block
    services: tuple[str, ...]
    district: str
    start: datetime
    end: datetime
    multiplier: float
    lat: float  # the cluster's centre
    lon: float
    place: str  # the street the centre is on, for the reports' texts
    radius_m: float = 300.0

    def __post_init__(self) -> None:
        if not self.multiplier > 1.0:
            raise ScenarioError(self.id, f"multiplier must exceed 1, got {self.multiplier}")
        if self.end <= self.start:
            raise ScenarioError(self.id, "a surge must end after it starts")
        if not self.services:
            raise ScenarioError(self.id, "a surge needs at least one service")

    @property
    def sector(self) -> str:
        return _SECTORS[self.services[0]]

    def ground_truth(self, city: City, scale: Scale | float = Scale.CITY) -> dict[str, object]:
        """The JSON object for this surge: its cell, window, multiplier and the cell's
        normal daily rate (the rate table's weekly mean) at ``scale``."""
        district = city.district(self.district)
        return {
            "record": "surge",
            "id": self.id,
            "theme": self.theme,
            "sector": self.sector,
            "services": list(self.services),
            "district": self.district,
            "district_name": district.name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "multiplier": self.multiplier,
            "normal_per_day": round(sum(daily_rate(s, district, scale) for s in self.services), 3),
            "lat": self.lat,
            "lon": self.lon,
            "radius_m": self.radius_m,
        }


_SECTORS = {s.code: s.sector for s in SERVICES}


def _centre(city: City, district: str, rng: random.Random) -> Intersection:
    crossings = [i for i in city.intersections if i.district == district]
    if not crossings:
        raise ScenarioError(district, "no intersection in this district to centre a surge on")
    return rng.choice(crossings)


def make_surge(
    city: City,
    what: SurgeTheme | str,
    district: str,
    start: datetime,
    *,
    duration: timedelta = timedelta(days=1),
    multiplier: float = 2.0,
    seed: int = 0,
    surge_id: str = "s0001",
) -> Surge:
    """A surge of a theme, or of a sector block's services (``what`` = the sector's name,
    e.g. «Дороги»), in ``district`` (a slug), centred on one of its intersections."""
    try:
        city.district(district)
    except KeyError:
        raise ScenarioError(surge_id, f"no district {district!r} in this city") from None
    if isinstance(what, SurgeTheme) or what in SurgeTheme.__members__.values():
        theme = SurgeTheme(what)
        services, label = theme.services, theme.value
    else:
        services = tuple(s.code for s in SERVICES if s.sector == what and s.per_100k > 0)
        label = "sector"
        if not services:
            raise ScenarioError(surge_id, f"no theme or sector block {what!r}")
    centre = _centre(city, district, random.Random(f"surge:{seed}:{surge_id}"))
    return Surge(
        surge_id,
        label,
        services,
        district,
        start,
        start + duration,
        multiplier,
        centre.lat,
        centre.lon,
        centre.main_street,
    )


def random_surges(
    city: City,
    *,
    start: datetime,
    end: datetime,
    per_week: float,
    seed: int = 0,
    multiplier: float = 2.0,
    duration: timedelta = timedelta(days=1),
    themes: Sequence[SurgeTheme] = tuple(SurgeTheme),
    id_prefix: str = "s",
) -> list[Surge]:
    """Surges drawn at ``per_week`` (expected count per simulated week), each of a random
    theme and district, starting on an hour; no two in one cell overlap."""
    rng = random.Random(f"random-surges:{seed}")
    span = (end - start).total_seconds() - duration.total_seconds()
    if span < 0:
        return []
    weeks = (end - start).total_seconds() / (7 * 86400)
    count = poisson(rng, per_week * weeks, normal_above=30.0)
    out: list[Surge] = []
    for n in range(1, count + 1):
        for _attempt in range(30):
            theme = rng.choice(list(themes))
            district = rng.choice(city.districts).slug
            at = start + timedelta(hours=int(rng.uniform(0, span) // 3600))
            clash = any(
                s.district == district
                and set(s.services) & set(theme.services)
                and at < s.end
                and s.start < at + duration
                for s in out
            )
            if not clash:
                out.append(
                    make_surge(
                        city,
                        theme,
                        district,
                        at,
                        duration=duration,
                        multiplier=multiplier,
                        seed=seed,
                        surge_id=f"{id_prefix}{n:04d}",
                    )
                )
                break
    return out
