"""Traffic and parking: congestion against the seasonal norm, stuck and full car parks."""

from __future__ import annotations

import math

from detectors._base import Detector, check
from detectors._health import Flatline
from detectors._stats import SeasonalBaseline


class Congestion(Detector[tuple[float, float]]):
    """Speed well below what is usual at this hour of the week, with high occupancy.

    Input ``(speed km/h, occupancy 0..1)``.  Fires (score 1) once speed has stayed below
    ``ratio`` × the hour-of-week median speed with occupancy ≥ ``min_occupancy`` for
    ``lasts_at_least_s``.  Recurrent rush-hour slowdowns are learnt as normal.
    """

    __slots__ = (
        "_baseline",
        "_since",
        "lasts_at_least_s",
        "min_occupancy",
        "ratio",
        "utc_offset_s",
        "warm_up",
    )

    def __init__(
        self,
        *,
        ratio: float = 0.5,
        min_occupancy: float = 0.3,
        lasts_at_least_s: float = 300.0,
        utc_offset_s: float = 0.0,
    ) -> None:
        check(0 < ratio < 1 and 0 <= min_occupancy <= 1, "need 0 < ratio < 1, occupancy in [0, 1]")
        check(lasts_at_least_s >= 0, "lasts_at_least_s must be >= 0")
        self.ratio = ratio
        self.min_occupancy = min_occupancy
        self.lasts_at_least_s = lasts_at_least_s
        self.utc_offset_s = utc_offset_s
        self._baseline = SeasonalBaseline(utc_offset_s=utc_offset_s)
        self.warm_up = self._baseline.warm_up
        self._since: float | None = None

    def update(self, t: float, x: tuple[float, float]) -> float:
        speed, occ = x
        if speed != speed or occ != occ or speed in (math.inf, -math.inf):
            return 0.0
        usual = self._baseline.baseline(t)
        self._baseline.update(t, speed)
        if usual is not None and speed < self.ratio * usual and occ >= self.min_occupancy:
            if self._since is None:
                self._since = t
            return 1.0 if t - self._since >= self.lasts_at_least_s else 0.0
        self._since = None
        return 0.0


class ParkingStuck(Flatline):
    """A car park whose occupied count has not changed for ``min_duration_s`` (6 h)."""

    __slots__ = ()

    def __init__(self, *, min_duration_s: float = 6 * 3600.0, min_count: int = 10) -> None:
        super().__init__(min_duration_s=min_duration_s, tolerance=0.0, min_count=min_count)

    def params(self) -> dict[str, object]:
        return {"min_duration_s": self.min_duration_s, "min_count": self.min_count}


class FullForLong(Detector[tuple[float, float]]):
    """A car park at least ``full_ratio`` full ``(occupied, total)`` for ``lasts_at_least_s``.

    A full lot still turns over: a car leaves and the spot is taken again minutes later.
    A stretch below full shorter than ``gap_s`` does not end the full period (and scores
    as the period does), so one full evening or night is one period, not many; but the
    lot must have been full at ``min_share`` of the period's readings at least, so a lot
    hovering just under full is not a full one.
    """

    __slots__ = (
        "_full",
        "_left",
        "_seen",
        "_since",
        "full_ratio",
        "gap_s",
        "lasts_at_least_s",
        "min_share",
    )

    def __init__(
        self,
        *,
        full_ratio: float = 0.98,
        lasts_at_least_s: float = 3 * 3600.0,
        gap_s: float = 0.0,
        min_share: float = 0.0,
    ):
        check(0 < full_ratio <= 1 and lasts_at_least_s >= 0, "bad full_ratio or duration")
        check(gap_s >= 0 and 0 <= min_share <= 1, "bad gap_s or min_share")
        self.full_ratio = full_ratio
        self.lasts_at_least_s = lasts_at_least_s
        self.gap_s = gap_s
        self.min_share = min_share
        self._since: float | None = None
        self._left: float | None = None  # when the current stretch below full began
        self._full = self._seen = 0  # readings of the period: at full, and all

    @property
    def since(self) -> float | None:
        """When the current full period began (None outside one)."""
        return self._since

    def update(self, t: float, x: tuple[float, float]) -> float:
        occupied, total = x
        if not total > 0 or occupied != occupied:
            return 0.0
        since = self._since
        if occupied >= self.full_ratio * total:
            self._left = None
            if since is None:
                since = self._since = t
                self._full = self._seen = 0
            self._full += 1
        elif since is not None:
            if self._left is None:
                self._left = t
            if t - self._left >= self.gap_s:
                self._since = self._left = None
                return 0.0
        else:
            return 0.0
        self._seen += 1
        if t - since < self.lasts_at_least_s or self._full < self.min_share * self._seen:
            return 0.0
        return 1.0
