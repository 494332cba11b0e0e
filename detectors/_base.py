"""The detector contract and the wrappers every family shares.

A detector watches one series, keyed by the caller per (device, metric).  ``update(t, x)``
scores the reading ``x`` taken at ``t`` (seconds since the epoch, from the reading, never
the wall clock) using only what came before, then learns from it.  Scores are floats in
[0, 1] and 0 until the detector is warm.  Deciding what is an alarm is left to
:class:`Alarm`.  Detectors hold only plain Python state, so ``pickle`` checkpoints them.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any, Generic, Self, TypeVar

from detectors._errors import DetectorConfigError

X = TypeVar("X")
K = TypeVar("K", bound=Hashable)


class Detector(Generic[X]):
    """Base class: an online, causal scorer of one series.

    Subclasses store their constructor arguments unchanged under the same names (so that
    :meth:`clone` can rebuild a fresh detector) and implement :meth:`update`.
    """

    __slots__ = ()

    #: readings seen before a score can be non-zero (0 for rules that apply at once)
    warm_up: int = 0

    def update(self, t: float, x: X) -> float:
        """Score ``x`` observed at ``t`` from past readings only, then learn from it."""
        raise NotImplementedError

    def tick(self, now: float) -> float:
        """Score the passage of time with no reading (silence); most detectors return 0."""
        return 0.0

    def params(self) -> dict[str, Any]:
        """The constructor arguments, as stored."""
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        params = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        return {p.name: getattr(self, p.name) for p in params if p.kind in kinds}

    def clone(self) -> Self:
        """A fresh, untrained detector with the same arguments (nested detectors cloned)."""
        return type(self)(**{k: _fresh(v) for k, v in self.params().items()})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def _fresh(value: Any) -> Any:
    if isinstance(value, Detector):
        return value.clone()
    if isinstance(value, dict) and any(isinstance(v, Detector) for v in value.values()):
        return {k: _fresh(v) for k, v in value.items()}
    return copy.deepcopy(value)


def clip01(s: float) -> float:
    """``s`` limited to [0, 1]; NaN (from degenerate arithmetic) counts as 0."""
    if s > 1.0:
        return 1.0
    if s >= 0.0:
        return s
    return 0.0


def squash(z: float, half: float) -> float:
    """Map a non-negative deviation to [0, 1): ``half`` maps to 0.5, never saturating."""
    if not z > 0.0:
        return 0.0
    if z == math.inf:
        return 1.0
    return z / (z + half)


def check(condition: bool, message: str) -> None:
    """Raise :class:`DetectorConfigError` unless ``condition`` holds (constructor checks)."""
    if not condition:
        raise DetectorConfigError(message)


class Max(Detector[X]):
    """Several detectors over the same input; the score is the highest of theirs."""

    __slots__ = ("detectors", "warm_up")

    def __init__(self, detectors: Mapping[str, Detector[X]]) -> None:
        check(len(detectors) > 0, "Max needs at least one detector")
        self.detectors = dict(detectors)
        self.warm_up = min(d.warm_up for d in self.detectors.values())

    def update(self, t: float, x: X) -> float:
        best = 0.0
        for d in self.detectors.values():
            s = d.update(t, x)
            if s > best:
                best = s
        return best

    def tick(self, now: float) -> float:
        return max(d.tick(now) for d in self.detectors.values())

    def explain(self, t: float, x: X) -> dict[str, float]:
        """Like :meth:`update`, but return every member's score (for incident evidence)."""
        return {name: d.update(t, x) for name, d in self.detectors.items()}


class Refractory(Detector[X]):
    """After a score reaches ``level``, report 0 for the next ``quiet`` readings.

    One physical event then raises one alarm instead of a burst; the wrapped detector keeps
    learning throughout.
    """

    __slots__ = ("_left", "detector", "level", "quiet", "warm_up")

    def __init__(self, detector: Detector[X], *, level: float, quiet: int) -> None:
        check(0.0 < level <= 1.0, "level must be in (0, 1]")
        check(quiet >= 0, "quiet must be >= 0")
        self.detector = detector
        self.level = level
        self.quiet = quiet
        self.warm_up = detector.warm_up
        self._left = 0

    def update(self, t: float, x: X) -> float:
        s = self.detector.update(t, x)
        if self._left > 0:
            self._left -= 1
            return 0.0
        if s >= self.level:
            self._left = self.quiet
        return s

    def tick(self, now: float) -> float:
        return self.detector.tick(now)


class Peaks(Detector[X]):
    """Reports a score in full only when it tops every score of the last ``window``
    readings; otherwise multiplied by ``damp``.

    A threshold-free cousin of :class:`Refractory`: the first, strongest sign of an event
    stands out, its echoes do not.
    """

    __slots__ = ("_i", "_recent", "damp", "detector", "warm_up", "window")

    def __init__(self, detector: Detector[X], *, window: int = 200, damp: float = 0.5) -> None:
        check(window >= 1 and 0.0 <= damp <= 1.0, "need window >= 1 and damp in [0, 1]")
        self.detector = detector
        self.window = window
        self.damp = damp
        self.warm_up = detector.warm_up
        self._i = 0
        # (index, score) with decreasing scores: the sliding maximum in amortised O(1)
        self._recent: deque[tuple[int, float]] = deque()

    def update(self, t: float, x: X) -> float:
        s = self.detector.update(t, x)
        recent = self._recent
        i = self._i
        while recent and recent[0][0] <= i - self.window:
            recent.popleft()
        top = recent[0][1] if recent else 0.0
        while recent and recent[-1][1] <= s:
            recent.pop()
        recent.append((i, s))
        self._i = i + 1
        return s if s > top else s * self.damp

    def tick(self, now: float) -> float:
        return self.detector.tick(now)


class Alarm:
    """Thresholding kept apart from scoring: on at ``on``, off again below ``off``.

    ``off`` < ``on`` gives hysteresis, so a score hovering at the threshold does not flap.
    """

    __slots__ = ("_active", "off", "on")

    def __init__(self, *, on: float, off: float | None = None) -> None:
        off = on if off is None else off
        check(0.0 < on <= 1.0, "on must be in (0, 1]")
        check(0.0 <= off <= on, "off must be in [0, on]")
        self.on = on
        self.off = off
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    def __call__(self, score: float) -> bool:
        """Feed one score; return whether the alarm is raised after it."""
        if self._active:
            if score < self.off:
                self._active = False
        elif score >= self.on:
            self._active = True
        return self._active


class Keyed(Generic[K, X]):
    """One detector per key (typically ``(device_id, metric)``), made on first sight.

    ``factory`` must be picklable (a class, a module-level function or a
    ``functools.partial`` of one) for the whole set to be checkpointed.
    """

    __slots__ = ("_by_key", "factory")

    def __init__(self, factory: Callable[[K], Detector[X]]) -> None:
        self.factory = factory
        self._by_key: dict[K, Detector[X]] = {}

    def update(self, key: K, t: float, x: X) -> float:
        d = self._by_key.get(key)
        if d is None:
            d = self._by_key[key] = self.factory(key)
        return d.update(t, x)

    def tick(self, now: float) -> dict[K, float]:
        """Advance time for every series; return the keys whose score is non-zero."""
        out: dict[K, float] = {}
        for key, d in self._by_key.items():
            s = d.tick(now)
            if s > 0.0:
                out[key] = s
        return out

    def __getitem__(self, key: K) -> Detector[X]:
        return self._by_key[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)
