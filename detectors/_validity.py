"""Validity checks: readings that cannot be true, whatever the history says."""

from __future__ import annotations

import math

from detectors._base import Detector, check


def _bad(x: float) -> bool:
    return x != x or x in (math.inf, -math.inf)


class Range(Detector[float]):
    """Scores 1 for a reading outside the physical range [low, high] (or not finite)."""

    __slots__ = ("high", "low")

    def __init__(self, *, low: float = -math.inf, high: float = math.inf) -> None:
        check(low < high, "low must be below high")
        self.low = low
        self.high = high

    def update(self, t: float, x: float) -> float:
        if _bad(x) or x < self.low or x > self.high:
            return 1.0
        return 0.0


class UnitMistake(Detector[float]):
    """Scores 1 when a reading is off from the series' usual level by a unit factor.

    A station reconfigured from mg/m³ to µg/m³ reports 1000× its usual values; that is a
    unit mistake, not pollution.  The usual level is an exponentially weighted mean of
    log10 of positive readings; a reading whose log-ratio to it lies within ``tolerance``
    decades of ±log10(``factor``) is flagged and not learnt from.
    """

    __slots__ = ("_a", "_level", "_n", "factor", "span", "tolerance", "warm_up")

    def __init__(
        self, *, factor: float = 1000.0, tolerance: float = 0.7, span: int = 200, warm_up: int = 10
    ) -> None:
        check(factor > 1.0, "factor must be > 1")
        check(0.0 < tolerance < math.log10(factor) / 2, "tolerance must be below half the factor")
        check(span >= 2 and warm_up >= 1, "need span >= 2 and warm_up >= 1")
        self.factor = factor
        self.tolerance = tolerance
        self.span = span
        self.warm_up = warm_up
        self._a = 2.0 / (span + 1.0)
        self._n = 0
        self._level = 0.0

    def update(self, t: float, x: float) -> float:
        if _bad(x) or x <= 0.0:
            return 0.0
        lx = math.log10(x)
        n = self._n
        if n >= self.warm_up:
            off = abs(lx - self._level)
            if abs(off - math.log10(self.factor)) <= self.tolerance:
                return 1.0
        a = self._a if n >= self.span else 1.0 / (n + 1)
        self._level += a * (lx - self._level)
        self._n = n + 1
        return 0.0


class CameraConsistency(Detector[tuple[float, float, float]]):
    """Impossible combinations in a camera report ``(intensity, speed km/h, occupancy)``.

    NaN marks a missing field.  Flagged: negative counts, occupancy outside [0, 1],
    speed outside [0, ``max_speed``], a speed with no vehicles, vehicles with zero
    occupancy, and full occupancy with free-flow speed.
    """

    __slots__ = ("free_flow", "max_speed")

    def __init__(self, *, max_speed: float = 250.0, free_flow: float = 60.0) -> None:
        check(0.0 < free_flow < max_speed, "need 0 < free_flow < max_speed")
        self.max_speed = max_speed
        self.free_flow = free_flow

    def update(self, t: float, x: tuple[float, float, float]) -> float:
        flow, speed, occ = x
        if flow == math.inf or speed == math.inf or occ == math.inf:
            return 1.0
        if flow < 0.0 or speed < 0.0 or speed > self.max_speed or occ < 0.0 or occ > 1.0:
            return 1.0
        if flow == 0.0 and speed > 0.0:
            return 1.0
        if flow > 0.0 and occ == 0.0:
            return 1.0
        if occ >= 0.95 and speed >= self.free_flow:
            return 1.0
        return 0.0


class ParkingConsistency(Detector[tuple[float, float]]):
    """Impossible parking reports ``(occupied, total)``: negative, or more than total."""

    __slots__ = ()

    def update(self, t: float, x: tuple[float, float]) -> float:
        occupied, total = x
        if occupied != occupied or total != total:
            return 0.0  # missing field: nothing to judge
        if total == math.inf or occupied < 0.0 or total < 0.0 or occupied > total:
            return 1.0
        return 0.0
