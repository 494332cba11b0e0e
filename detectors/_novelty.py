"""Novelty: how unlike anything seen before a reading is, overall and at this time of day."""

from __future__ import annotations

import bisect
import math
from array import array
from typing import Any

from detectors._base import Detector, check, squash
from detectors._stats import nearest_distance


class _ValueSet:
    """The values seen in the last ``memory`` additions, sorted, as cells of width ``tol``.

    A value within ``tol`` of a kept one only refreshes that one's age, so a series that
    repeats itself costs a few cells, not one per reading; cells unseen for ``memory``
    additions are dropped in a sweep every ``memory // 8`` additions.
    """

    __slots__ = ("_last", "_n", "memory", "values")

    def __init__(self, memory: int) -> None:
        self.memory = memory
        self.values = array("d")  # contiguous: nothing for the cyclic collector to traverse
        self._last = array("q")  # when each cell was last seen, in additions
        self._n = 0

    def add(self, x: float, tol: float) -> None:
        v, n = self.values, self._n
        k = bisect.bisect_left(v, x)
        if k < len(v) and v[k] - x <= tol:
            self._last[k] = n
        elif k > 0 and x - v[k - 1] <= tol:
            self._last[k - 1] = n
        else:
            v.insert(k, x)
            self._last.insert(k, n)
        self._n = n = n + 1
        if n % max(1, self.memory // 8) == 0 and n > self.memory:
            oldest = n - self.memory
            keep = [i for i, age in enumerate(self._last) if age >= oldest]
            if len(keep) < len(v):
                self.values = array("d", [v[i] for i in keep])
                self._last = array("q", [self._last[i] for i in keep])

    def nearest(self, x: float) -> float:
        return nearest_distance(self.values, x)

    def __len__(self) -> int:
        return self._n if self._n < self.memory else self.memory


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
    scores are weighted by ``n / (n + ramp)``.  Values closer than ``resolution`` × range
    to a remembered one are merged with it, so memory grows with the variety of values,
    not the number of readings; scoring and learning cost O(log cells) comparisons.
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
        "resolution",
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
        resolution: float = 1e-3,
        utc_offset_s: float = 0.0,
    ) -> None:
        check(memory >= 4 and context_memory >= 1, "need memory >= 4 and context_memory >= 1")
        check(half > 0 and context_half > 0, "half and context_half must be > 0")
        check(0.0 <= context_weight <= 1.0, "context_weight must be in [0, 1]")
        check(period_s > 0 and bin_s > 0 and period_s % bin_s == 0, "bad period or bin")
        check(1 <= min_count <= context_memory, "min_count must be in [1, context_memory]")
        check(ramp >= 0 and warm_up >= 2, "need ramp >= 0 and warm_up >= 2")
        check(0.0 <= resolution < half, "resolution must be in [0, half)")
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
        self.resolution = resolution
        self.utc_offset_s = utc_offset_s
        self._all = _ValueSet(memory)
        n_bins = int(period_s // bin_s) if context_weight else 0
        self._bins = [_ValueSet(context_memory) for _ in range(n_bins)]
        self._n = 0

    # A partition's checkpoint pickles thousands of these.  Pickled as they are, each is
    # 13 value sets of two arrays; as three flat arrays it pickles several times faster.
    _PARAMS = tuple(k for k in __slots__ if not k.startswith("_"))

    def __getstate__(self) -> tuple[Any, ...]:
        values, last, shape = array("d"), array("q"), array("q")
        for s in (self._all, *self._bins):
            values.extend(s.values)
            last.extend(s._last)
            shape.append(len(s.values))
            shape.append(s._n)
        params = tuple(getattr(self, k) for k in self._PARAMS)
        return (params, self._n, shape.tobytes(), values.tobytes(), last.tobytes())

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        params, self._n, shape_b, values_b, last_b = state
        for k, v in zip(self._PARAMS, params, strict=True):
            setattr(self, k, v)
        shape, values, last = array("q"), array("d"), array("q")
        shape.frombytes(shape_b)
        values.frombytes(values_b)
        last.frombytes(last_b)
        sets: list[_ValueSet] = []
        at = 0
        for i in range(0, len(shape), 2):
            size, n = shape[i], shape[i + 1]
            s = _ValueSet(self.memory if i == 0 else self.context_memory)
            s.values, s._last, s._n = values[at : at + size], last[at : at + size], n
            sets.append(s)
            at += size
        self._all, self._bins = sets[0], sets[1:]

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        everything = self._all
        n = self._n
        score = 0.0
        b = None
        if self._bins:
            b = self._bins[int(((t + self.utc_offset_s) % self.period_s) // self.bin_s)]
        v = everything.values
        scale = v[-1] - v[0] + 1e-3 * abs(v[len(v) // 2]) + 1e-9 if v else 1e-9
        if n >= self.warm_up:
            score = squash(everything.nearest(x) / scale, self.half)
            if b is not None and len(b) >= self.min_count:
                c = self.context_weight * squash(b.nearest(x) / scale, self.context_half)
                if c > score:
                    score = c
            score *= n / (n + self.ramp)
        tol = self.resolution * scale
        everything.add(x, tol)
        if b is not None:
            b.add(x, tol)
        self._n = n + 1
        return score if score <= 1.0 else 1.0
