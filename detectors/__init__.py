"""Streaming anomaly detectors for city sensor series.

Every detector scores one series online: ``update(t, x)`` returns a float in [0, 1]
computed from earlier readings only, then learns.  :class:`Alarm` turns scores into
decisions; :class:`Keyed` holds one detector per (device, metric).
"""

from detectors._base import Alarm, Detector, Keyed, Max, Refractory
from detectors._errors import DetectorConfigError, DetectorError, EvaluationDataError
from detectors._presets import Constant, default_univariate
from detectors._stats import Cusum, Deviation, Normalised, SeasonalBaseline

__all__ = [
    "Alarm",
    "Constant",
    "Cusum",
    "Detector",
    "DetectorConfigError",
    "DetectorError",
    "Deviation",
    "EvaluationDataError",
    "Keyed",
    "Max",
    "Normalised",
    "Refractory",
    "SeasonalBaseline",
    "default_univariate",
]
