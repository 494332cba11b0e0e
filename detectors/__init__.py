"""Streaming anomaly detectors for city sensor series.

Every detector scores one series online: ``update(t, x)`` returns a float in [0, 1]
computed from earlier readings only, then learns; ``t`` is the reading's time in epoch
seconds, never the wall clock.  :class:`Alarm` turns scores into decisions (with
hysteresis); :class:`Keyed` holds one detector per (device, metric) series; detector
state pickles, so a worker can checkpoint it.

Families: validity (:class:`Range`, :class:`UnitMistake`, :class:`CameraConsistency`,
:class:`ParkingConsistency`), rules (:class:`LimitRule`, :func:`air_quality_rule` with
the СанПиН 1.2.3685-21 limits), statistics (:class:`Deviation`,
:class:`SeasonalBaseline`, :class:`Cusum`, :class:`Normalised`, :class:`Novelty`,
:class:`Rarity`; the
learned time-of-day normal of one stream that the city set and NAB both run:
:class:`SeasonalStream`, :func:`learned_stream`, whose views alone the city reads
(:func:`learned_views`); counts against a weekly-seasonal normal:
:class:`SeasonalCounts`),
multivariate (:class:`CameraForest`, :class:`CameraIsolationForest`), device health
(:class:`Silence`, :class:`Flatline`, :class:`StuckPhase`, :class:`SignalDark`,
:class:`LampFault`) and traffic/parking (:class:`Congestion`, :class:`ParkingStuck`,
:class:`FullForLong`).
"""

from typing import TYPE_CHECKING

from citypulse import AirLimit, lazy_exports

if TYPE_CHECKING:
    from detectors._base import Alarm, Detector, Keyed, Max, Peaks, Refractory
    from detectors._counts import SeasonalCounts, poisson_quantile, weekly_shape
    from detectors._errors import (
        DetectorConfigError,
        DetectorError,
        EvaluationDataError,
        IncidentConflictError,
        LostPartitionsError,
    )
    from detectors._health import Flatline, LampFault, SignalDark, Silence, StuckPhase
    from detectors._learned import LearnedStream, SeasonalStream, learned_stream, learned_views
    from detectors._multivariate import CameraForest, CameraIsolationForest
    from detectors._novelty import Novelty
    from detectors._presets import Constant, city_scalar, default_univariate
    from detectors._rules import SANPIN_1_2_3685_21, LimitRule, air_quality_rule
    from detectors._stats import (
        Cusum,
        Deviation,
        Normalised,
        Rarity,
        SeasonalBaseline,
        SeasonalNovelty,
    )
    from detectors._traffic import Congestion, FullForLong, ParkingStuck
    from detectors._validity import CameraConsistency, ParkingConsistency, Range, UnitMistake
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "SANPIN_1_2_3685_21",
    "AirLimit",
    "Alarm",
    "CameraConsistency",
    "CameraForest",
    "CameraIsolationForest",
    "Congestion",
    "Constant",
    "Cusum",
    "Detector",
    "DetectorConfigError",
    "DetectorError",
    "Deviation",
    "EvaluationDataError",
    "Flatline",
    "FullForLong",
    "IncidentConflictError",
    "Keyed",
    "LampFault",
    "LearnedStream",
    "LimitRule",
    "LostPartitionsError",
    "Max",
    "Normalised",
    "Novelty",
    "ParkingConsistency",
    "ParkingStuck",
    "Peaks",
    "Range",
    "Rarity",
    "Refractory",
    "SeasonalBaseline",
    "SeasonalCounts",
    "SeasonalNovelty",
    "SeasonalStream",
    "SignalDark",
    "Silence",
    "StuckPhase",
    "UnitMistake",
    "air_quality_rule",
    "city_scalar",
    "default_univariate",
    "learned_stream",
    "learned_views",
    "poisson_quantile",
    "weekly_shape",
]
