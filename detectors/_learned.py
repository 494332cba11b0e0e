"""A learned, seasonal, per-stream detector: the city set's and NAB's one statistical family.

:class:`SeasonalStream` learns, online and per stream, what is normal at each time of
the day (an exponentially weighted mean and variance per ``bin_s`` bin, computed
exactly as river's ``EWMean`` / ``EWVar`` compute them), and how far this stream's day
runs from that profile (a level over ``span`` readings).  A reading is scored by three
views, the highest reported:

- ``point``: its residual from the profile and level, in units of the bin's own spread
  (at least ``range_floor`` of the range seen, and the Poisson spread for counts);
- ``shift``: a two-sided CUSUM of those residuals (each step clipped), which finds a
  level shift or a drift that no single reading shows;
- ``novelty``: :class:`~detectors.Novelty`, the distance to every value seen before,
  overall and at this time of day (values never seen, a missing daily peak).

What is learnt from a reading is clipped to a few spreads and, once the CUSUM is past
its half, not learnt at all, so a fault does not become the normal.  Scores are in
[0, 1] and 0 until warm; deciding is left to the caller (:class:`~detectors.Alarm`, or
NAB's threshold).  Nothing depends on labels, file names or the future.
"""

from __future__ import annotations

import math

from detectors._base import Detector, Peaks, check, squash
from detectors._novelty import Novelty
from detectors._stats import Rarity


def _unbias(a: float, n: int) -> float:
    """What an exponentially weighted variance that started at 0 has reached of the true
    one after ``n`` values (measured on river's ``EWVar``: about 1 - (1 - a)^(2(n - 1)))."""
    return max(1e-3, 1.0 - (1.0 - a) ** (2 * max(n - 1, 1)))


class SeasonalStream(Detector[float]):
    """Deviation from this stream's learnt time-of-day normal; see the module docstring.

    ``bin_s`` bins of ``period_s`` (local time: ``utc_offset_s``) each keep an
    exponentially weighted mean and variance with a memory of about ``memory`` of the
    bin's readings; a bin is used once it has ``min_count``.  ``half`` is the point
    deviation (in spreads) scoring 0.5; the CUSUM has slack ``k`` and scores 0.5 at
    ``h``; ``novelty`` weighs the :class:`Novelty` view (0 leaves it out, which the city
    does for streams a physical rule already bounds).  ``counts``: the stream is a count,
    so its spread is at least the Poisson one, sqrt of the expected count.
    """

    __slots__ = (
        "_a_bin",
        "_cnt",
        "_cur",
        "_e",
        "_held",
        "_hi",
        "_level",
        "_lo",
        "_max",
        "_means",
        "_min",
        "_n",
        "_novelty",
        "_shadow",
        "_sq",
        "_whole",
        "_z",
        "bin_s",
        "clip",
        "counts",
        "freeze",
        "h",
        "half",
        "k",
        "memory",
        "min_count",
        "novelty",
        "period_s",
        "range_floor",
        "rel_spread",
        "settle",
        "span",
        "utc_offset_s",
        "warm_up",
    )

    def __init__(
        self,
        *,
        period_s: float = 86400.0,
        bin_s: float = 3600.0,
        memory: int = 60,
        min_count: int = 6,
        span: int = 30,
        half: float = 6.0,
        k: float = 1.0,
        h: float = 20.0,
        freeze: float = 10.0,
        clip: float = 4.0,
        novelty: float = 1.0,
        counts: bool = False,
        rel_spread: float = 1e-3,
        range_floor: float = 0.05,
        settle: int = 120,
        warm_up: int = 100,
        utc_offset_s: float = 0.0,
    ) -> None:
        check(period_s > 0 and bin_s > 0 and period_s % bin_s == 0, "bad period or bin")
        check(memory >= 2 and min_count >= 1 and span >= 2, "bad SeasonalStream memory")
        check(
            half > 0 and k >= 0 and h > 0 and freeze > 0 and clip > 0,
            "bad SeasonalStream thresholds",
        )
        check(0.0 <= novelty <= 1.0 and rel_spread >= 0 and warm_up >= 2, "bad SeasonalStream")
        self.period_s = period_s
        self.bin_s = bin_s
        self.memory = memory
        self.min_count = min_count
        self.span = span
        self.half = half
        self.k = k
        self.h = h
        self.freeze = freeze
        self.clip = clip
        self.novelty = novelty
        self.counts = counts
        self.rel_spread = rel_spread
        self.range_floor = range_floor
        self.settle = settle
        self.warm_up = warm_up
        self.utc_offset_s = utc_offset_s
        a = 2.0 / (memory + 1.0)
        n = int(period_s // bin_s)
        # Per bin: the exponentially weighted mean and mean square of what it learnt, and
        # how many readings that was.  These are river's ``EWMean`` and ``EWVar`` (mean
        # square less squared mean), bit for bit (the first value is taken as it is, then
        # ``a·x + (1 − a)·m``), kept as plain floats: a partition's checkpoint pickles
        # thousands of streams, and 48 river objects per stream made pickling it cost as
        # much CPU as the detection itself.
        self._means = [0.0] * n
        self._sq = [0.0] * n
        self._cnt = [0] * n
        self._whole = [False] * n  # the stream has passed through the bin at least once
        self._cur = -1  # the bin of the last reading
        self._a_bin = a
        self._min = math.inf  # the range seen
        self._max = -math.inf
        self._level = 0.0  # this stretch's offset from the profile
        self._shadow = 0.0  # the same, learnt through shifts too
        self._held = 0  # readings the current shift has lasted
        self._hi = self._lo = 0.0
        self._n = 0
        self._z = self._e = 0.0
        self._novelty = (
            Novelty(utc_offset_s=utc_offset_s, period_s=period_s) if novelty > 0.0 else None
        )

    def _bin(self, t: float) -> int:
        return int(((t + self.utc_offset_s) % self.period_s) // self.bin_s)

    def expected(self, t: float) -> float:
        """What the stream is expected to read at ``t`` (profile plus level)."""
        b = self._bin(t)
        if self._whole[b] and self._cnt[b] >= self.min_count:
            return self._means[b] + self._level
        return math.nan

    def spread(self, t: float) -> float:
        """The spread a residual at ``t`` is measured in (NaN while ``t``'s bin is cold)."""
        b = self._bin(t)
        if not (self._whole[b] and self._cnt[b] >= self.min_count):
            return math.nan
        return self._spread(b, self._means[b] + self._level)

    def _spread(self, b: int, e: float) -> float:
        # the bin's own spread, at least a share of the range seen (a flat stretch is not
        # a zero spread) and, for counts, the Poisson one
        m = self._means[b]
        v = self._sq[b] - m * m
        n = self._cnt[b]
        if n < 8 * self.memory:  # past that, the start at 0 is forgotten
            v /= _unbias(self._a_bin, n)
        f = self.range_floor * (self._max - self._min)
        if f * f > v:
            v = f * f
        if self.counts and e > v:
            v = e
        return math.sqrt(v) + self.rel_spread * abs(e) + 1e-9

    @property
    def statistic(self) -> float:
        """The CUSUM statistic (spread units): how far a lasting shift has built up."""
        return self._hi if self._hi > self._lo else self._lo

    @property
    def shifted(self) -> int:
        """+1 or -1 while a lasting shift holds the normal still (the CUSUM is past
        ``freeze``: nothing is learnt), else 0."""
        if self._hi >= self.freeze and self._hi >= self._lo:
            return 1
        return -1 if self._lo >= self.freeze else 0

    @property
    def last_z(self) -> float:
        """The last reading's residual in spreads, signed (0 until warm)."""
        return self._z

    @property
    def last_expected(self) -> float:
        """What the last reading was expected to be (evidence for an incident)."""
        return self._e

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        n = self._n
        b = self._bin(t)
        if b != self._cur:  # a bin is known once the stream has been through it whole
            if self._cur >= 0:
                self._whole[self._cur] = True
            self._cur = b
        score = 0.0
        learn = True
        self._z = 0.0
        y = x  # what the bin learns: the reading less this stretch's level, clipped
        if self._whole[b] and self._cnt[b] >= self.min_count:
            base = self._means[b]
            level = self._level
            self._e = e = base + level
            r = x - base
            if n >= self.warm_up:
                sd = self._spread(b, e)
                self._z = z = (r - level) / sd
                clip = self.clip
                if z > clip:  # the point view: 0 within ``clip`` spreads
                    score = squash(z - clip, self.half)
                    zc = clip
                elif z < -clip:
                    score = squash(-z - clip, self.half)
                    zc = -clip
                else:
                    zc = z
                cap = 2.0 * self.freeze
                self._hi = hi = min(cap, max(0.0, self._hi + zc - self.k))
                self._lo = lo = min(cap, max(0.0, self._lo - zc - self.k))
                s = hi if hi > lo else lo
                learn = s < 0.5 * self.freeze  # a shift under way is not learnt
                if s >= self.freeze:
                    shift = squash(s - self.freeze, self.h)
                    if shift > score:
                        score = shift
                    self._held += 1
                    if self._held >= self.settle:  # it lasted: the new level is the normal
                        self._level = self._shadow
                        self._hi = self._lo = 0.0
                        self._held = 0
                else:
                    self._held = 0
                if z != zc:  # learn a clipped value: one wild reading moves little
                    r = level + zc * sd
            a = 2.0 / (self.span + 1.0) if n >= self.span else 1.0 / (n + 1)
            self._shadow += a * (r - self._shadow)
            if learn:
                self._level += a * (r - self._level)
            y = base + r - self._level
        if self._novelty is not None:
            nov = self.novelty * self._novelty.update(t, x)
            if nov > score:
                score = nov
        if learn:
            a = self._a_bin
            if self._cnt[b]:
                self._means[b] = a * y + (1.0 - a) * self._means[b]
                self._sq[b] = a * (y * y) + (1.0 - a) * self._sq[b]
            else:
                self._means[b] = y
                self._sq[b] = y * y
            self._cnt[b] += 1
            if x < self._min:
                self._min = x
            if x > self._max:
                self._max = x
        self._n = n + 1
        return score if score < 1.0 else 1.0


class LearnedStream(Peaks[float]):
    """:class:`Peaks` over :class:`~detectors.Rarity` over a :class:`SeasonalStream`,
    whose views the city reads."""

    __slots__ = ()

    @property
    def stream(self) -> SeasonalStream:
        d = self.detector
        assert isinstance(d, Rarity)
        stream = d.detector
        assert isinstance(stream, SeasonalStream)
        return stream


def learned_stream(*, counts: bool = False, utc_offset_s: float = 0.0) -> LearnedStream:
    """The one configuration of :class:`SeasonalStream` that the city set and ``citypulse
    eval nab --detector city`` both run: the views above; then :class:`~detectors.Rarity`,
    which weighs the score by how rarely this stream has scored so high (a noisy stream's
    everyday novelty is not a quiet one's event); then :class:`Peaks`, which lets the
    first, strongest sign of an event through and damps its echoes to a quarter over the
    next 1000 readings.  ``counts`` says what the stream is (a count of vehicles), not
    how to tune it; nothing is set per file or per device.  The city decides on the
    detector's own views (``last_z``, ``last_expected``, ``shifted``) at its thresholds,
    and runs them as :func:`learned_views`; NAB optimises a threshold on the score."""
    return LearnedStream(Rarity(_configured(counts, utc_offset_s)), window=1000, damp=0.25)


def learned_views(*, counts: bool = False, utc_offset_s: float = 0.0) -> SeasonalStream:
    """:func:`learned_stream`'s stream without its score: the same views, bit for bit,
    for a reader that never looks at the score (the city's cameras and parking lots).
    Skipping the score's novelty view and :class:`Peaks` cut a detect replay of the large
    city's soak data by about a fifth of its CPU, and a count stream's memory from about
    8 KB to 2 KB (3.2 KB to 1.1 KB pickled)."""
    return _configured(counts, utc_offset_s, novelty=0.0)


def _configured(counts: bool, utc_offset_s: float, novelty: float = 1.0) -> SeasonalStream:
    return SeasonalStream(
        half=50.0, h=400.0, novelty=novelty, counts=counts, utc_offset_s=utc_offset_s
    )
