"""Named detector configurations: the univariate default used for NAB and city series."""

from __future__ import annotations

import math
from collections.abc import Callable

from detectors._base import Detector, Max, Peaks, Refractory
from detectors._errors import DetectorConfigError
from detectors._health import Flatline
from detectors._learned import learned_stream
from detectors._novelty import Novelty
from detectors._stats import (
    Cusum,
    Deviation,
    Normalised,
    Rarity,
    SeasonalBaseline,
    SeasonalNovelty,
)
from detectors._validity import Range


class Constant(Detector[float]):
    """Reports the same score for every reading: NAB's null detector uses 0.5."""

    __slots__ = ("value",)

    def __init__(self, value: float = 0.5) -> None:
        self.value = value

    def update(self, t: float, x: float) -> float:
        return self.value


def default_univariate(seed: int = 0, *, utc_offset_s: float = 0.0) -> Detector[float]:
    """The general-purpose detector for one numeric series (the NAB configuration).

    :class:`Novelty`: how far a reading lies from every value seen before, overall and at
    the same two hours of the day, in units of the range seen; then :class:`Rarity`,
    which weighs that by how rarely this series has been so novel; then :class:`Peaks`,
    which lets the first, strongest sign of an event through and damps its echoes to a
    quarter over the next 1000 readings.  One configuration for every series; nothing is
    tuned per file or per device.
    """
    del seed  # deterministic; kept for a uniform signature
    return Peaks(Rarity(Novelty(utc_offset_s=utc_offset_s)), window=1000, damp=0.25)


def deviation_novelty(seed: int = 0, *, utc_offset_s: float = 0.0) -> Detector[float]:
    """The previous default: deviation from an exponentially weighted mean, capped when a
    similar value was seen at the same hour of day, then :class:`Peaks` over 200 readings."""
    del seed
    return Peaks(
        SeasonalNovelty(Deviation(span=200, half=3.0), utc_offset_s=utc_offset_s),
        window=200,
        damp=0.5,
    )


def seasonal_univariate(seed: int = 0) -> Detector[float]:
    """Deviation, daily seasonal baseline and CUSUM, adaptively normalised."""
    del seed
    raw = Max(
        {
            "deviation": Deviation(span=200, half=3.0),
            "daily": SeasonalBaseline(period_s=86400.0, bin_s=3600.0, memory=32, min_count=8),
            "cusum": Cusum(),
        }
    )
    return Refractory(Normalised(raw, window=2000, short=5), level=0.5, quiet=50)


def _null(seed: int = 0) -> Detector[float]:
    return Constant(0.5)


def city_stream(seed: int = 0) -> Detector[float]:
    """The stream the city set learns a normal with where no physical limit applies
    (:func:`~detectors._learned.learned_stream`; the city reads its views alone, as
    :func:`~detectors._learned.learned_views`), for NAB to measure ``citypulse detect``."""
    del seed  # deterministic
    return learned_stream()


def _deviation(seed: int = 0) -> Detector[float]:
    return Peaks(Deviation(span=200), window=200, damp=0.5)


NAB_PRESETS: dict[str, Callable[[int], Detector[float]]] = {
    "default": default_univariate,
    "city": city_stream,
    "null": _null,
    "deviation": _deviation,
    "seasonal": seasonal_univariate,
    "deviation_novelty": deviation_novelty,
}


def nab_detector(name: str, *, seed: int = 0) -> Detector[float]:
    try:
        factory = NAB_PRESETS[name]
    except KeyError:
        raise DetectorConfigError(f"unknown detector configuration {name!r}") from None
    return factory(seed)


def city_scalar(*, low: float = -math.inf, high: float = math.inf, seed: int = 0) -> Max[float]:
    """The default set for one numeric city series: validity, frozen values, and the
    learned seasonal stream the city monitors run (:func:`city_stream`)."""
    return Max(
        {
            "range": Range(low=low, high=high),
            "flatline": Flatline(min_duration_s=3 * 3600.0, min_count=30),
            "statistics": city_stream(seed),
        }
    )
