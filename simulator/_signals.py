"""How a city behaves over the day and week: pure functions of local time, no randomness.

Times are epoch seconds; the city runs on Moscow time (UTC+3, no daylight saving), which
is where the peaks fall.  Randomness (noise) is added by the device models around these.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulator._city import DistrictProfile

MSK_OFFSET_S = 3 * 3600


def local_hour(t: float) -> float:
    """Hour of day in Moscow time, 0 <= h < 24."""
    return ((t + MSK_OFFSET_S) % 86400.0) / 3600.0


def is_weekend(t: float) -> bool:
    # 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
    weekday = (int((t + MSK_OFFSET_S) // 86400) + 3) % 7
    return weekday >= 5


def _bump(h: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((h - centre) / width) ** 2)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def traffic_demand(t: float) -> float:
    """Citywide traffic as a share of the weekday evening peak: ~0.05 at night, 1 at peak."""
    h = local_hour(t)
    if is_weekend(t):
        day = _sigmoid((h - 9.5) * 1.4) * _sigmoid((22.5 - h) * 1.4)
        value = 0.05 + 0.55 * day + 0.15 * _bump(h, 14.0, 2.5)
    else:
        day = _sigmoid((h - 6.3) * 2.2) * _sigmoid((22.0 - h) * 1.4)
        value = 0.05 + 0.6 * day + 0.45 * _bump(h, 8.0, 0.9) + 0.5 * _bump(h, 18.0, 1.2)
    return value / 1.15


def cycle_length(t: float) -> int:
    """Fixed-time plan in force at ``t``: night 60 s, weekday peaks 100 s, otherwise 80 s."""
    h = local_hour(t)
    if h < 6.0 or h >= 23.0:
        return 60
    if not is_weekend(t) and (7.0 <= h < 10.0 or 16.0 <= h < 20.0):
        return 100
    return 80


@dataclass(frozen=True, slots=True)
class Split:
    """Durations (s) of the main signal group's phases in one cycle."""

    green: int
    yellow: int
    red: int
    red_yellow: int


def split(cycle: int) -> Split:
    """Main street gets ~55 % of the cycle; amber 3 s, red+amber 2 s (ГОСТ Р 52289)."""
    green = round(cycle * 0.55) - 3
    return Split(green=green, yellow=3, red=cycle - green - 5, red_yellow=2)


def occupancy_from_load(load: float) -> float:
    """Mean detector occupancy (0..1) for a volume/capacity ratio ``load``."""
    return 0.03 + 0.38 * load * load


def speed_from_occupancy(occupancy: float, free_flow_kmh: float) -> float:
    """Greenshields: speed falls linearly with density (occupancy), to zero at jam."""
    return free_flow_kmh * max(0.0, 1.0 - occupancy / 0.92)


def heavy_share(t: float) -> float:
    """Lorries and buses are a larger share at night and midday than in the peaks."""
    return 0.04 + 0.08 * (1.0 - traffic_demand(t)) + 0.03 * _bump(local_hour(t), 12.5, 2.0)


def parking_fill(t: float, profile: DistrictProfile) -> float:
    """Expected share of occupied spots."""
    h = local_hour(t)
    weekend = is_weekend(t)
    business = _sigmoid((h - 8.6) * 2.0) * _sigmoid((19.0 - h) * 1.3)
    home = 1.0 - _sigmoid((h - 7.5) * 2.0) * _sigmoid((18.5 - h) * 1.2)
    if weekend:
        business = _sigmoid((h - 11.0) * 1.5) * _sigmoid((19.5 - h) * 1.5) * 0.8
        home = 1.0 - 0.4 * _sigmoid((h - 10.5) * 1.5) * _sigmoid((20.0 - h) * 1.5)
    if profile is DistrictProfile.BUSINESS:
        return 0.08 + 0.84 * business
    if profile is DistrictProfile.RESIDENTIAL:
        return 0.3 + 0.62 * home
    return 0.2 + 0.35 * business + 0.3 * home


def weather(t: float, seed_phase: float) -> tuple[float, float, float, float]:
    """Citywide (temperature °C, relative humidity 0..1, pressure hPa, ventilation 0.4..1.6).

    Smooth and deterministic: a seasonal mean for Kaluga, a diurnal cycle and a few slow
    sinusoids whose phases come from the seed stand in for passing weather systems.
    """
    day_of_year = ((t + MSK_OFFSET_S) / 86400.0 + 0.0) % 365.25
    h = local_hour(t)
    seasonal = 5.5 - 13.5 * math.cos(2 * math.pi * (day_of_year - 15) / 365.25)
    diurnal = 3.5 * math.sin(2 * math.pi * (h - 9.0) / 24.0)
    slow = 3.0 * math.sin(t / 190000.0 + seed_phase) + 1.5 * math.sin(t / 47000.0 + 2 * seed_phase)
    temperature = seasonal + diurnal + slow
    humidity = min(0.99, max(0.3, 0.78 - 0.12 * math.sin(2 * math.pi * (h - 9.0) / 24.0)
                             + 0.08 * math.sin(t / 61000.0 + 3 * seed_phase)))  # fmt: skip
    pressure = 1013.0 + 9.0 * math.sin(t / 230000.0 + 5 * seed_phase)
    # Ventilation: wind and mixing height. Nights are still (inversions trap pollution).
    ventilation = 0.7 + 0.35 * _bump(h, 14.0, 4.0) + 0.3 * math.sin(t / 83000.0 + 7 * seed_phase)
    return temperature, humidity, pressure, max(0.4, ventilation)


def traffic_index(t: float) -> float:
    """Traffic as it affects air: demand averaged over the last hour (pollution lags)."""
    return (traffic_demand(t) + traffic_demand(t - 1800.0) + traffic_demand(t - 3600.0)) / 3.0


def poisson(rng: random.Random, lam: float, *, normal_above: float) -> int:
    """A Poisson draw with mean ``lam``; the normal approximation above ``normal_above``."""
    if lam <= 0.0:
        return 0
    if lam > normal_above:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
