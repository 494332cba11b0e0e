"""Statistical detectors for one numeric series: deviation, seasonal baseline, CUSUM.

All keep O(1) (amortised) plain-Python state per series; no numpy per reading.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import deque
from collections.abc import Sequence

from detectors._base import Detector, check, clip01, squash

_LN_TINY = math.log(1e-10)
_SQRT2 = math.sqrt(2.0)


class Deviation(Detector[float]):
    """How far a reading lies from an exponentially weighted mean, in weighted std units.

    ``span`` readings set the memory (alpha = 2 / (span + 1)).  A floor of
    ``min_spread`` (absolute) plus ``rel_spread`` × |mean| keeps a flat series from
    turning every tiny wiggle into an alarm.  ``half`` is the deviation scored 0.5.
    Once warm, what is learnt from a reading is clipped to ``clip`` spreads, so one wild
    value does not blind the detector to the next.
    """

    __slots__ = (
        "_a",
        "_mean",
        "_n",
        "_var",
        "clip",
        "half",
        "min_spread",
        "rel_spread",
        "span",
        "warm_up",
    )

    def __init__(
        self,
        *,
        span: int = 100,
        half: float = 3.0,
        min_spread: float = 1e-9,
        rel_spread: float = 1e-3,
        warm_up: int = 20,
        clip: float = math.inf,
    ) -> None:
        check(span >= 2, "span must be >= 2")
        check(half > 0, "half must be > 0")
        check(min_spread > 0 and rel_spread >= 0, "spread floors must be positive")
        check(warm_up >= 1, "warm_up must be >= 1")
        check(clip > 0, "clip must be > 0")
        self.clip = clip
        self.span = span
        self.half = half
        self.min_spread = min_spread
        self.rel_spread = rel_spread
        self.warm_up = warm_up
        self._a = 2.0 / (span + 1.0)
        self._n = 0
        self._mean = 0.0
        self._var = 0.0

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        n = self._n
        if n == 0:
            self._n = 1
            self._mean = x
            return 0.0
        d = x - self._mean
        score = 0.0
        if n >= self.warm_up:
            spread = math.sqrt(self._var) + self.min_spread + self.rel_spread * abs(self._mean)
            score = squash(abs(d) / spread, self.half)
            limit = self.clip * spread
            if d > limit:
                d = limit
            elif d < -limit:
                d = -limit
        a = self._a if n >= self.span else 1.0 / (n + 1)
        self._mean += a * d
        self._var = (1.0 - a) * (self._var + a * d * d)
        self._n = n + 1
        return clip01(score)


class SeasonalBaseline(Detector[float]):
    """Robust deviation from what is normal at this time of the period (hour of week).

    Each of ``period_s / bin_s`` bins keeps its last ``memory`` readings; their median and
    MAD are refreshed every ``refresh`` inserts (sorting is amortised, not per reading).
    A bin is warm once it holds ``min_count`` readings.  ``utc_offset_s`` shifts the
    phase to local time (Moscow is +10800); the epoch began on a Thursday, so the week
    bins start on Monday 00:00 local.
    """

    __slots__ = (
        "_bins",
        "_mad",
        "_med",
        "_since",
        "bin_s",
        "half",
        "memory",
        "min_count",
        "min_spread",
        "period_s",
        "refresh",
        "rel_spread",
        "utc_offset_s",
        "warm_up",
    )

    def __init__(
        self,
        *,
        period_s: float = 7 * 86400.0,
        bin_s: float = 3600.0,
        memory: int = 64,
        refresh: int = 8,
        min_count: int = 8,
        half: float = 3.0,
        min_spread: float = 1e-9,
        rel_spread: float = 1e-3,
        utc_offset_s: float = 0.0,
    ) -> None:
        check(period_s > 0 and bin_s > 0, "period and bin must be positive")
        check(period_s % bin_s == 0, "period_s must be a whole number of bins")
        check(memory >= 3 and 1 <= refresh <= memory, "need memory >= 3, 1 <= refresh <= memory")
        check(1 <= min_count <= memory, "min_count must be in [1, memory]")
        check(half > 0 and min_spread > 0 and rel_spread >= 0, "bad spread parameters")
        self.period_s = period_s
        self.bin_s = bin_s
        self.memory = memory
        self.refresh = refresh
        self.min_count = min_count
        self.half = half
        self.min_spread = min_spread
        self.rel_spread = rel_spread
        self.utc_offset_s = utc_offset_s
        self.warm_up = min_count
        n = int(period_s // bin_s)
        self._bins: list[deque[float]] = [deque(maxlen=memory) for _ in range(n)]
        self._med = [0.0] * n
        self._mad = [0.0] * n
        self._since = [0] * n

    def _bin(self, t: float) -> int:
        # Thursday 1970-01-01 00:00 UTC is 3 days after a Monday.
        return int(((t + self.utc_offset_s + 3 * 86400.0) % self.period_s) // self.bin_s)

    def baseline(self, t: float) -> float | None:
        """The learned median for the time of ``t``, or None while that bin is cold."""
        b = self._bin(t)
        return self._med[b] if len(self._bins[b]) >= self.min_count else None

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        b = self._bin(t)
        values = self._bins[b]
        score = 0.0
        if len(values) >= self.min_count:
            med = self._med[b]
            spread = 1.4826 * self._mad[b] + self.min_spread + self.rel_spread * abs(med)
            score = squash(abs(x - med) / spread, self.half)
        values.append(x)
        self._since[b] += 1
        if self._since[b] >= self.refresh or len(values) <= self.min_count:
            self._since[b] = 0
            s = sorted(values)
            m = len(s)
            med = 0.5 * (s[(m - 1) // 2] + s[m // 2])
            dev = sorted(abs(v - med) for v in s)
            self._med[b] = med
            self._mad[b] = 0.5 * (dev[(m - 1) // 2] + dev[m // 2])
        return clip01(score)


class Cusum(Detector[float]):
    """Two-sided CUSUM on readings standardised by a slow exponentially weighted reference.

    ``k`` is the allowed drift and ``h`` the decision interval, both in std units; the
    score is S / (S + h), so 0.5 is the classic alarm.  The sums restart after crossing
    ``h`` and the reference re-anchors, so a lasting level shift alarms once.
    """

    __slots__ = ("_a", "_hi", "_lo", "_mean", "_n", "_var", "h", "k", "span", "warm_up")

    def __init__(self, *, k: float = 0.5, h: float = 8.0, span: int = 500, warm_up: int = 30):
        check(k >= 0 and h > 0, "need k >= 0 and h > 0")
        check(span >= 2 and warm_up >= 2, "need span >= 2 and warm_up >= 2")
        self.k = k
        self.h = h
        self.span = span
        self.warm_up = warm_up
        self._a = 2.0 / (span + 1.0)
        self._n = 0
        self._mean = 0.0
        self._var = 0.0
        self._hi = 0.0
        self._lo = 0.0

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        n = self._n
        d = x - self._mean
        score = 0.0
        if n >= self.warm_up:
            sd = math.sqrt(self._var) + 1e-9 + 1e-6 * abs(self._mean)
            z = d / sd
            hi = max(0.0, self._hi + z - self.k)
            lo = max(0.0, self._lo - z - self.k)
            s = hi if hi > lo else lo
            score = squash(s, self.h)
            if s >= self.h:
                hi = lo = 0.0
                self._mean = x  # re-anchor on the new level
                d = 0.0
            self._hi, self._lo = hi, lo
        a = self._a if n >= self.span else 1.0 / (n + 1)
        self._mean += a * d
        self._var = (1.0 - a) * (self._var + a * d * d)
        self._n = n + 1
        return clip01(score)


class Normalised(Detector[float]):
    """Adaptive score normalisation: how unusual is the recent raw score for this series?

    Keeps an exponentially weighted mean and variance of the wrapped detector's raw
    scores over ``window`` readings and compares the mean of the last ``short`` with
    them (the tail-probability idea of Numenta's anomaly likelihood).  The tail
    probability q is reported as log(q) / log(1e-10), so 0.5 means q ≈ 1e-5.
    """

    __slots__ = (
        "_a",
        "_mean",
        "_n",
        "_recent",
        "_sum",
        "_var",
        "detector",
        "short",
        "warm_up",
        "window",
    )

    def __init__(self, detector: Detector[float], *, window: int = 2000, short: int = 5):
        check(window >= 10 and 1 <= short < window, "need window >= 10 and 1 <= short < window")
        self.detector = detector
        self.window = window
        self.short = short
        self.warm_up = max(detector.warm_up, 0) + short + 10
        self._a = 2.0 / (window + 1.0)
        self._n = 0
        self._mean = 0.0
        self._var = 0.0
        self._recent: deque[float] = deque(maxlen=short)
        self._sum = 0.0

    def update(self, t: float, x: float) -> float:
        raw = self.detector.update(t, x)
        recent = self._recent
        if len(recent) == self.short:
            self._sum -= recent[0]
        recent.append(raw)
        self._sum += raw
        n = self._n
        score = 0.0
        if n >= self.warm_up:
            sd = math.sqrt(self._var) + 1e-6
            z = (self._sum / len(recent) - self._mean) / sd
            q = 0.5 * math.erfc(z / _SQRT2)
            score = math.log(q + 1e-10) / _LN_TINY
        d = raw - self._mean
        a = self._a if n >= self.window else 1.0 / (n + 1)
        self._mean += a * d
        self._var = (1.0 - a) * (self._var + a * d * d)
        self._n = n + 1
        return clip01(score)

    def tick(self, now: float) -> float:
        return self.detector.tick(now)


class Rarity(Detector[float]):
    """The wrapped detector's score weighted by how rare so high a score is for this
    series: ``s × log((n + 1) / (1 + k)) / log(n + 1)``, ``k`` of the last ``n`` scores
    at least ``s`` (counted in ``bins`` cells of [0, 1]: one in ``s``'s cell counts).

    A score this series has often reached is damped (the weight is small when ``k`` is
    a large share of ``n``); its highest yet keeps nearly all of it.  A threshold shared
    by many series then asks each for what is rare *for it*: a noisy stream whose every
    other reading is somewhat novel no longer crosses it as often as a quiet one that
    rarely is.  The cells' counts are summed by a Fenwick tree (O(log bins) a reading);
    when ``memory`` have been counted, every count is halved, so old scores fade and the
    state stays the same size.  0 until ``min_count`` scores are known.  Nothing depends
    on labels or the future.
    """

    __slots__ = ("_n", "_tree", "bins", "detector", "memory", "min_count", "warm_up")

    def __init__(
        self,
        detector: Detector[float],
        *,
        bins: int = 1024,
        memory: int = 20_000,
        min_count: int = 50,
    ) -> None:
        check(bins >= 2 and memory >= 2 and min_count >= 1, "bad Rarity parameters")
        self.detector = detector
        self.bins = bins
        self.memory = memory
        self.min_count = min_count
        self.warm_up = max(detector.warm_up, min_count)
        self._tree = [0.0] * (bins + 1)  # Fenwick tree over the cells' counts, 1-based
        self._n = 0.0

    def update(self, t: float, x: float) -> float:
        s = self.detector.update(t, x)
        if not s >= 0.0:  # NaN: neither scored nor counted
            return 0.0
        bins, tree, n = self.bins, self._tree, self._n
        cell = int(s * bins)
        if cell >= bins:
            cell = bins - 1
        score = 0.0
        if s > 0.0 and n >= self.min_count:
            below, i = 0.0, cell  # the counts of the cells under s's
            while i > 0:
                below += tree[i]
                i &= i - 1
            score = s * math.log((n + 1.0) / (1.0 + n - below)) / math.log(n + 1.0)
        i = cell + 1
        while i <= bins:
            tree[i] += 1.0
            i += i & -i
        n += 1.0
        if n >= self.memory:
            for j in range(1, bins + 1):
                tree[j] *= 0.5
            n *= 0.5
        self._n = n
        return score if score < 1.0 else 1.0

    def tick(self, now: float) -> float:
        return self.detector.tick(now)


def nearest_distance(values: Sequence[float], x: float) -> float:
    """Distance from ``x`` to the nearest of the sorted ``values`` (inf when empty)."""
    k = bisect.bisect_left(values, x)
    left = x - values[k - 1] if k > 0 else math.inf
    right = values[k] - x if k < len(values) else math.inf
    return left if left < right else right


class _SortedWindow:
    """The last ``size`` values, kept sorted: nearest neighbour and quantiles in O(log n)."""

    __slots__ = ("_fifo", "_head", "size", "values")

    def __init__(self, size: int) -> None:
        self.size = size
        # contiguous doubles: thousands of series stay cache-friendly, and the cyclic
        # garbage collector has nothing to traverse
        self.values = array("d")
        self._fifo = array("d")
        self._head = 0

    def add(self, x: float) -> None:
        bisect.insort(self.values, x)
        fifo = self._fifo
        if len(fifo) < self.size:
            fifo.append(x)
            return
        # a ring buffer: overwrite the oldest value in place
        old = fifo[self._head]
        fifo[self._head] = x
        self._head = (self._head + 1) % self.size
        del self.values[bisect.bisect_left(self.values, old)]

    def nearest(self, x: float) -> float:
        return nearest_distance(self.values, x)

    def iqr(self) -> float:
        v = self.values
        n = len(v)
        return v[(3 * n) // 4] - v[n // 4]

    def median(self) -> float:
        v = self.values
        return v[len(v) // 2]

    def __len__(self) -> int:
        return len(self.values)


class SeasonalNovelty(Detector[float]):
    """Seasonal context for another detector's score.

    A reading close to values seen before at the same time of the period (hour of day by
    default) is not news: the wrapped score is capped by how far the reading lies from
    its nearest such neighbour (in units of the series' interquartile range, ``half``
    scoring 0.5).  A reading unlike anything seen at this hour is news even inside the
    usual overall range: that distance in units of the hour's own spread, with
    ``context_half`` scoring 0.5, can raise the score.  Daily recurring spikes stop
    alarming; a missing daily peak starts to.
    """

    __slots__ = (
        "_all",
        "_bins",
        "_n",
        "bin_s",
        "context_half",
        "detector",
        "half",
        "memory",
        "min_count",
        "period_s",
        "utc_offset_s",
        "warm_up",
    )

    def __init__(
        self,
        detector: Detector[float],
        *,
        period_s: float = 86400.0,
        bin_s: float = 3600.0,
        memory: int = 192,
        min_count: int = 24,
        half: float = 1.0,
        context_half: float = 0.0,
        utc_offset_s: float = 0.0,
    ) -> None:
        check(period_s > 0 and bin_s > 0 and period_s % bin_s == 0, "bad period or bin")
        check(memory >= 4 and 1 <= min_count <= memory, "need memory >= 4, min_count <= memory")
        check(half > 0 and context_half >= 0, "need half > 0 and context_half >= 0")
        self.detector = detector
        self.period_s = period_s
        self.bin_s = bin_s
        self.memory = memory
        self.min_count = min_count
        self.half = half
        self.context_half = context_half
        self.utc_offset_s = utc_offset_s
        self.warm_up = detector.warm_up
        self._bins = [_SortedWindow(memory) for _ in range(int(period_s // bin_s))]
        self._all = _SortedWindow(16 * memory)
        self._n = 0

    def update(self, t: float, x: float) -> float:
        s = self.detector.update(t, x)
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        b = self._bins[int(((t + self.utc_offset_s) % self.period_s) // self.bin_s)]
        everything = self._all
        if len(b) >= self.min_count and len(everything) >= 2 * self.min_count:
            d = b.nearest(x)
            floor = 1e-3 * abs(everything.median()) + 1e-9
            if s > 0.0:
                s = min(s, squash(d / (everything.iqr() + floor), self.half))
            if self.context_half > 0.0 and self._n >= self.warm_up:
                s = max(s, squash(d / (b.iqr() + floor), self.context_half))
        b.add(x)
        everything.add(x)
        self._n += 1
        return clip01(s)

    def tick(self, now: float) -> float:
        return self.detector.tick(now)
