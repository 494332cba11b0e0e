"""How often citizens write, per service and district: the documented rate table.

A cell (service × district) has a *daily rate*: reports per 100,000 residents per day
(:data:`SERVICES`) times the district's residents (:data:`POPULATION` by the district's
profile, times the :class:`Scale`).  That is the cell's mean over a week; within the
week the rate follows an hour-of-day profile (:data:`HOURLY`, normalised to mean 1) and
a day-of-week factor (:data:`WEEKDAY`, mean 1), both in Moscow time, so

    rate(t) [reports per hour] = daily × HOURLY[profile][hour(t)] / 24 × WEEKDAY[weekday(t)]

and arrivals are a Poisson process with that piecewise-constant (hourly) rate.  The
reasoning behind each number is in docs/simulator.md.  The service codes and their
sector blocks mirror appeals/routing.default.yaml (a test checks they agree).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from simulator._city import City, District, DistrictProfile
from simulator._signals import MSK_OFFSET_S


class HourProfile(enum.StrEnum):
    """When in the day people write about a service."""

    DAY = "day"  # most services: after waking, at lunch and after work; few at night
    NIGHT = "night"  # noise: a party or roadworks at night is when people complain


@dataclass(frozen=True, slots=True)
class ServiceRate:
    """A service's background rate and the sector block (routing group) it belongs to."""

    code: str
    sector: str
    per_100k: float  # reports per 100,000 residents per day, the weekly mean
    profile: HourProfile = HourProfile.DAY


# Reports per 100,000 residents per day.  Roads and housing most, noise least; services
# about the city's own devices (cameras, stations, sensors) get none: nobody outside sees
# those fail (their faults are reported by the sensors themselves).
SERVICES: tuple[ServiceRate, ...] = (
    ServiceRate("housing", "ЖКХ", 15.0),
    ServiceRate("road-damage", "Дороги", 12.0),
    ServiceRate("waste", "ТКО", 8.0),
    ServiceRate("street-lighting", "Энергетика", 5.0),
    ServiceRate("utility-outage", "ЖКХ", 4.0),
    ServiceRate("parking", "Транспорт", 3.0),
    ServiceRate("traffic-congestion", "Транспорт", 2.0),
    ServiceRate("traffic-signal", "Дороги", 1.0),
    ServiceRate("road-accident", "Дороги", 1.0),
    ServiceRate("road-obstruction", "Транспорт", 1.0),
    ServiceRate("air-quality", "Экология", 1.0),
    ServiceRate("public-safety", "Безопасность", 0.6),
    ServiceRate("noise", "Экология", 0.35, HourProfile.NIGHT),
    ServiceRate("traffic-camera", "Транспорт", 0.0),
    ServiceRate("eco-monitoring", "Экология", 0.0),
    ServiceRate("city-sensors", "Цифровая инфраструктура", 0.0),
)
SERVICE_INDEX: Mapping[str, int] = MappingProxyType({s.code: i for i, s in enumerate(SERVICES)})

# Residents of a district by its profile, at city scale (the preset's three districts:
# 330,000, about Kaluga's population).
POPULATION: Mapping[DistrictProfile, int] = MappingProxyType(
    {
        DistrictProfile.BUSINESS: 70_000,
        DistrictProfile.MIXED: 110_000,
        DistrictProfile.RESIDENTIAL: 150_000,
    }
)


class Scale(enum.Enum):
    """How many residents stand behind each district: ``CITY`` as :data:`POPULATION`;
    ``REGION`` nine times that (a district as a region's municipal district, the preset
    ~3 million residents), so cells run from ~2 (noise, business) to ~200 (housing,
    residential) reports a day."""

    CITY = 1.0
    REGION = 9.0

    @classmethod
    def parse(cls, value: str) -> Scale:
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"scale must be city or region, got {value!r}") from None


# Hour-of-day weights (Moscow time, hour 0 = 00:00-01:00), normalised to mean 1 below.
_HOURLY_RAW: Mapping[HourProfile, tuple[float, ...]] = {
    HourProfile.DAY: (
        0.25, 0.15, 0.10, 0.08, 0.08, 0.15, 0.40, 0.90, 1.40, 1.70, 1.75, 1.70,
        1.55, 1.55, 1.50, 1.45, 1.45, 1.50, 1.60, 1.65, 1.55, 1.20, 0.80, 0.45,
    ),
    HourProfile.NIGHT: (
        1.60, 1.50, 1.20, 0.80, 0.40, 0.20, 0.20, 0.40, 0.60, 0.70, 0.80, 0.80,
        0.80, 0.80, 0.80, 0.80, 0.90, 1.00, 1.10, 1.20, 1.40, 1.60, 1.80, 1.80,
    ),
}  # fmt: skip


def _normalised(raw: tuple[float, ...]) -> tuple[float, ...]:
    mean = math.fsum(raw) / len(raw)
    return tuple(w / mean for w in raw)


HOURLY: Mapping[HourProfile, tuple[float, ...]] = MappingProxyType(
    {p: _normalised(w) for p, w in _HOURLY_RAW.items()}
)
# Monday .. Sunday: Monday brings the weekend's backlog; Saturday is the quietest.
WEEKDAY: tuple[float, ...] = (1.10, 1.05, 1.05, 1.05, 1.00, 0.85, 0.90)


def population(district: District, scale: Scale | float = Scale.CITY) -> float:
    factor = scale.value if isinstance(scale, Scale) else float(scale)
    return POPULATION[district.profile] * factor


def daily_rate(service: str, district: District, scale: Scale | float = Scale.CITY) -> float:
    """The cell's mean reports per day over a week (the rate table times the residents)."""
    return SERVICES[SERVICE_INDEX[service]].per_100k * population(district, scale) / 100_000


def hourly_rate(
    service: str, district: District, t: float, scale: Scale | float = Scale.CITY
) -> float:
    """The cell's seasonal normal at epoch second ``t``, reports per hour."""
    rate = SERVICES[SERVICE_INDEX[service]]
    local = t + MSK_OFFSET_S
    hour = int(local // 3600) % 24
    weekday = (int(local // 86400) + 3) % 7  # 1970-01-01 was a Thursday
    return daily_rate(service, district, scale) * HOURLY[rate.profile][hour] / 24 * WEEKDAY[weekday]


def rate_table(city: City, scale: Scale | float = Scale.CITY) -> dict[tuple[str, str], float]:
    """Every cell's daily rate: (service code, district slug) -> reports per day."""
    return {
        (s.code, d.slug): daily_rate(s.code, d, scale)
        for s in SERVICES
        for d in city.districts
        if s.per_100k > 0
    }
