"""Rules from configuration: a limit on a moving average that must hold for a while.

:func:`air_quality_rule` judges the Russian hygienic limits for ambient air of
СанПиН 1.2.3685-21 (table 1.1), the kernel's :data:`citypulse.AIR_LIMITS`: the maximum
single concentration (ПДК м.р., averaged over 20 minutes) and the daily average
(ПДК с.с.; for ozone an 8-hour mean), in the reading's unit (µg/m³ except CO, mg/m³).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping

from citypulse import AIR_LIMITS, AirLimit
from detectors._base import Detector, Max, check
from detectors._errors import DetectorConfigError


class LimitRule(Detector[float]):
    """Fires (score 1) while the mean over the last ``averaging_s`` exceeds ``limit``
    and has done so for at least ``lasts_at_least_s``.

    The average is the plain mean of readings with time in (t - averaging_s, t]; it is
    only judged once the readings span ``min_coverage`` of the averaging period, so a
    daily average is not declared from one morning hour.  Non-finite readings are
    ignored (validity reports them).  Without ``min_coverage`` a lone reading stands for
    its whole averaging period.

    The window's readings are two flat arrays of floats (16 bytes a reading) read from
    ``_head``, compacted as they drain: a daily mean holds a day of readings, which as a
    deque of (time, value) tuples took about 110 bytes each — 6 pollutants of a station
    reporting every minute, nearly a megabyte per station, hundreds of MiB over a large
    city's day (the detect workers' memory grew with it).
    """

    __slots__ = (
        "_head",
        "_since",
        "_sum",
        "_times",
        "_values",
        "averaging_s",
        "lasts_at_least_s",
        "limit",
        "min_coverage",
    )

    def __init__(
        self,
        *,
        limit: float,
        averaging_s: float = 0.0,
        lasts_at_least_s: float = 0.0,
        min_coverage: float = 0.0,
    ) -> None:
        check(averaging_s >= 0 and lasts_at_least_s >= 0, "durations must be >= 0")
        check(0.0 <= min_coverage <= 1.0, "min_coverage must be in [0, 1]")
        self.limit = limit
        self.averaging_s = averaging_s
        self.lasts_at_least_s = lasts_at_least_s
        self.min_coverage = min_coverage
        self._times = array("d")
        self._values = array("d")
        self._head = 0  # the window is [_head:] of both arrays
        self._sum = 0.0
        self._since: float | None = None

    @property
    def average(self) -> float:
        """The current moving average (NaN before any reading): evidence for an incident."""
        n = len(self._times) - self._head
        return self._sum / n if n else math.nan

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        times, values = self._times, self._values
        times.append(t)
        values.append(x)
        self._sum += x
        start = t - self.averaging_s
        head, last = self._head, len(times) - 1
        while head < last and times[head] <= start:
            self._sum -= values[head]
            head += 1
        if head >= 64 and 2 * head >= len(times):
            del times[:head]
            del values[:head]
            head = 0
        self._head = head
        if t - times[head] < self.min_coverage * self.averaging_s:
            self._since = None
            return 0.0
        if self._sum / (len(times) - head) > self.limit:
            if self._since is None:
                self._since = t
            return 1.0 if t - self._since >= self.lasts_at_least_s else 0.0
        self._since = None
        return 0.0


#: The kernel's table, under the name the detectors have always exported.
SANPIN_1_2_3685_21: Mapping[str, AirLimit] = AIR_LIMITS

MAX_SINGLE_AVERAGING_S = 20 * 60.0
#: The share of an averaging period that readings must cover (the daily limit's rule).
COVERAGE = 0.75


def air_quality_rule(
    pollutant: str, *, lasts_at_least_s: float = 0.0, spanned: bool = False
) -> Max[float]:
    """Both СанПиН limits for ``pollutant`` (a reading field name: pm25, no2, co, ...).

    The ``daily`` member averages over the table's period for ПДК с.с.: a day, but
    8 hours for ozone.  With ``spanned``, ПДК м.р. fires only once readings over it span
    three quarters of its 20-minute period: a station reporting every 20 minutes gives
    instantaneous values, and one of them alone is not a 20-minute mean (a sensor glitch
    is one reading; a plume is still there at the next).
    """
    try:
        lim = AIR_LIMITS[pollutant]
    except KeyError:
        raise DetectorConfigError(f"no СанПиН limit for {pollutant!r}") from None
    return Max(
        {
            "max_single": LimitRule(
                limit=lim.max_single_in_unit,
                averaging_s=MAX_SINGLE_AVERAGING_S,
                lasts_at_least_s=(
                    max(lasts_at_least_s, COVERAGE * MAX_SINGLE_AVERAGING_S)
                    if spanned
                    else lasts_at_least_s
                ),
            ),
            "daily": LimitRule(
                limit=lim.daily_in_unit,
                averaging_s=lim.daily_averaging_s,
                lasts_at_least_s=lasts_at_least_s,
                min_coverage=COVERAGE,
            ),
        }
    )
