"""Device health: silence, frozen values, and traffic-light faults.

These detectors judge the device, not the world it measures.  :class:`Silence` is driven
by :meth:`~detectors.Detector.tick` so it fires while no data arrives at all.
"""

from __future__ import annotations

import math

from detectors._base import Detector, check

#: phases in which a signal no longer regulates traffic
DARK_PHASES = frozenset({"off", "flashing_yellow"})


class Silence(Detector[object]):
    """Scores 1 once ``k`` × ``expected_interval_s`` passed since the last reading.

    ``update`` records arrivals (any payload); ``tick(now)`` judges the gap.  A device
    never heard from is not judged (registration is not a reading).  Late readings older
    than the last one do not move the clock back.
    """

    __slots__ = ("_last", "expected_interval_s", "k")

    def __init__(self, *, expected_interval_s: float, k: float = 3.0) -> None:
        check(expected_interval_s > 0 and k >= 1, "need expected_interval_s > 0 and k >= 1")
        self.expected_interval_s = expected_interval_s
        self.k = k
        self._last: float | None = None

    @property
    def last_seen(self) -> float | None:
        return self._last

    def update(self, t: float, x: object) -> float:
        if self._last is None or t > self._last:
            self._last = t
        return 0.0

    def tick(self, now: float) -> float:
        if self._last is None:
            return 0.0
        return 1.0 if now - self._last > self.k * self.expected_interval_s else 0.0


class Flatline(Detector[float]):
    """Scores 1 when readings stay within ``tolerance`` of one value for ``min_duration_s``
    and at least ``min_count`` readings: a frozen sensor or a stuck counter."""

    __slots__ = ("_count", "_start", "_value", "min_count", "min_duration_s", "tolerance")

    def __init__(
        self, *, min_duration_s: float, tolerance: float = 0.0, min_count: int = 5
    ) -> None:
        check(min_duration_s > 0 and tolerance >= 0, "need min_duration_s > 0, tolerance >= 0")
        check(min_count >= 2, "min_count must be >= 2")
        self.min_duration_s = min_duration_s
        self.tolerance = tolerance
        self.min_count = min_count
        self._value = math.nan
        self._start = 0.0
        self._count = 0

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        if self._count and abs(x - self._value) <= self.tolerance:
            self._count += 1
        else:
            self._value, self._start, self._count = x, t, 1
        if self._count >= self.min_count and t - self._start >= self.min_duration_s:
            return 1.0
        return 0.0

    @property
    def since(self) -> float:
        """When the current run of unchanged readings began."""
        return self._start

    def reset(self) -> None:
        """End the current run: the next reading starts a new one."""
        self._count = 0


class StuckPhase(Detector[str]):
    """Scores 1 when a regulating phase (red, green, ...) lasts beyond ``max_phase_s``.

    A phase's duration is only what was heard: a gap of more than ``max_gap_s`` between
    readings (a power loss, a stretch of dead letters) or a :meth:`reset` ends the run,
    and the next reading starts a new one, whatever its phase.
    """

    __slots__ = ("_last", "_phase", "_since", "max_gap_s", "max_phase_s")

    def __init__(self, *, max_phase_s: float = 300.0, max_gap_s: float = math.inf) -> None:
        check(max_phase_s > 0 and max_gap_s > 0, "max_phase_s and max_gap_s must be > 0")
        self.max_phase_s = max_phase_s
        self.max_gap_s = max_gap_s
        self._phase = ""
        self._since = 0.0
        self._last = -math.inf

    def reset(self) -> None:
        """Forget the current phase: what happened since it was heard is unknown."""
        self._phase = ""

    def update(self, t: float, x: str) -> float:
        gap = t - self._last > self.max_gap_s
        if t > self._last:
            self._last = t
        if x != self._phase or gap:
            self._phase, self._since = x, t
            return 0.0
        return self.tick(t)

    def tick(self, now: float) -> float:
        if not self._phase or self._phase in DARK_PHASES:
            return 0.0
        return 1.0 if now - self._since > self.max_phase_s else 0.0


class SignalDark(Detector[str]):
    """Scores 1 when a signal is off or flashing yellow for at least ``grace_s``."""

    __slots__ = ("_since", "grace_s")

    def __init__(self, *, grace_s: float = 60.0) -> None:
        check(grace_s >= 0, "grace_s must be >= 0")
        self.grace_s = grace_s
        self._since: float | None = None

    def update(self, t: float, x: str) -> float:
        if x in DARK_PHASES:
            if self._since is None:
                self._since = t
            return self.tick(t)
        self._since = None
        return 0.0

    def tick(self, now: float) -> float:
        if self._since is None:
            return 0.0
        return 1.0 if now - self._since >= self.grace_s else 0.0


class LampFault(Detector[bool]):
    """Scores 1 after ``min_reports`` consecutive reports with the lamp-fault flag set."""

    __slots__ = ("_run", "min_reports")

    def __init__(self, *, min_reports: int = 2) -> None:
        check(min_reports >= 1, "min_reports must be >= 1")
        self.min_reports = min_reports
        self._run = 0

    def update(self, t: float, x: bool) -> float:
        self._run = self._run + 1 if x else 0
        return 1.0 if self._run >= self.min_reports else 0.0
