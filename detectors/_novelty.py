"""Novelty: how unlike anything seen before a reading is, overall and at this time of day."""

from __future__ import annotations

import math

from detectors._base import Detector, check, squash
from detectors._stats import _SortedWindow


class Novelty(Detector[float]):
    """Distance from a reading to the nearest value seen before, in units of the range seen.

    Two views, the higher reported: the distance to the nearest of the last ``memory``
    readings (``half`` of the range scores 0.5: new extremes, values in gaps never visited)
    and, weighted by ``context_weight``, the distance to the nearest of the last
    ``context_memory`` readings taken at the same time of the period (``bin_s`` bins of
    ``period_s``; ``context_half`` scores 0.5), which catches a missing daily peak or a
    night-time value at noon.  Both are scaled by the range of all remembered readings,
    so the score does not depend on units or offset.  A record among few readings is no
    surprise (among ``n`` readings a new extreme comes with probability about 1 / n), so
    scores are weighted by ``n / (n + ramp)``.  Scoring and learning cost O(log memory)
    comparisons plus a block move of the sorted window.
    """

    __slots__ = (
        "_all",
        "_bins",
        "_n",
        "bin_s",
        "context_half",
        "context_memory",
        "context_weight",
        "half",
        "memory",
        "min_count",
        "period_s",
        "ramp",
        "utc_offset_s",
        "warm_up",
    )

    def __init__(
        self,
        *,
        memory: int = 20_000,
        half: float = 0.01,
        period_s: float = 86400.0,
        bin_s: float = 7200.0,
        context_memory: int = 500,
        context_weight: float = 0.6,
        context_half: float = 0.1,
        min_count: int = 20,
        ramp: float = 200.0,
        warm_up: int = 100,
        utc_offset_s: float = 0.0,
    ) -> None:
        check(memory >= 4 and context_memory >= 1, "need memory >= 4 and context_memory >= 1")
        check(half > 0 and context_half > 0, "half and context_half must be > 0")
        check(0.0 <= context_weight <= 1.0, "context_weight must be in [0, 1]")
        check(period_s > 0 and bin_s > 0 and period_s % bin_s == 0, "bad period or bin")
        check(1 <= min_count <= context_memory, "min_count must be in [1, context_memory]")
        check(ramp >= 0 and warm_up >= 2, "need ramp >= 0 and warm_up >= 2")
        self.memory = memory
        self.half = half
        self.period_s = period_s
        self.bin_s = bin_s
        self.context_memory = context_memory
        self.context_weight = context_weight
        self.context_half = context_half
        self.min_count = min_count
        self.ramp = ramp
        self.warm_up = warm_up
        self.utc_offset_s = utc_offset_s
        self._all = _SortedWindow(memory)
        n_bins = int(period_s // bin_s)
        self._bins = [_SortedWindow(context_memory) for _ in range(n_bins)] if context_weight else []
        self._n = 0

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        everything = self._all
        n = self._n
        score = 0.0
        b = None
        if self._bins:
            b = self._bins[int(((t + self.utc_offset_s) % self.period_s) // self.bin_s)]
        if n >= self.warm_up:
            v = everything.values
            scale = v[-1] - v[0] + 1e-3 * abs(v[len(v) // 2]) + 1e-9
            score = squash(everything.nearest(x) / scale, self.half)
            if b is not None and len(b) >= self.min_count:
                c = self.context_weight * squash(b.nearest(x) / scale, self.context_half)
                if c > score:
                    score = c
            score *= n / (n + self.ramp)
        everything.add(x)
        if b is not None:
            b.add(x)
        self._n = n + 1
        return score if score <= 1.0 else 1.0
