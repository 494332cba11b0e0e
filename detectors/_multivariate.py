"""Multivariate camera detectors: flow, speed and occupancy judged together.

:class:`CameraForest` (river HalfSpaceTrees, learning online) and
:class:`CameraIsolationForest` (scikit-learn IsolationForest, refitted periodically).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from detectors._base import Detector, check, clip01


class CameraForest(Detector[tuple[float, float, float]]):
    """river's HalfSpaceTrees over ``(intensity, speed km/h, occupancy)`` per camera.

    Features are scaled by fixed physical limits (HalfSpaceTrees needs [0, 1]), so the
    model learns this device's normal combinations from its own history; a slow lane
    full of cars at free-flow speed stands out even when each value alone is ordinary.
    Readings with a missing field are neither scored nor learnt.
    """

    __slots__ = (
        "_model",
        "_n",
        "height",
        "max_flow",
        "max_speed",
        "n_trees",
        "seed",
        "warm_up",
        "window_size",
    )

    def __init__(
        self,
        *,
        seed: int,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        max_flow: float = 200.0,
        max_speed: float = 150.0,
    ) -> None:
        check(n_trees >= 1 and height >= 1 and window_size >= 10, "bad forest size")
        check(max_flow > 0 and max_speed > 0, "limits must be positive")
        from river.anomaly import HalfSpaceTrees

        self.seed = seed
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.max_flow = max_flow
        self.max_speed = max_speed
        self.warm_up = window_size
        self._n = 0
        self._model: Any = HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )

    def update(self, t: float, x: tuple[float, float, float]) -> float:
        flow, speed, occ = x
        if flow != flow or speed != speed or occ != occ:
            return 0.0
        features = {
            "flow": min(max(flow / self.max_flow, 0.0), 1.0),
            "speed": min(max(speed / self.max_speed, 0.0), 1.0),
            "occupancy": min(max(occ, 0.0), 1.0),
        }
        score = 0.0
        if self._n >= self.warm_up:
            score = clip01(float(self._model.score_one(features)))
        self._model.learn_one(features)
        self._n += 1
        return score


class CameraIsolationForest(Detector[tuple[float, float, float]]):
    """A scikit-learn IsolationForest over ``(intensity, speed km/h, occupancy)`` per
    camera, refitted every ``refit_every`` readings on the last ``window`` of them.

    Scores 0 until the first fit (``warm_up`` readings), then the forest's anomaly score
    s (0.5 for an ordinary point, towards 1 for an isolated one) mapped to
    ``(s - 0.5) / 0.5`` in [0, 1].  Each fit is seeded with ``seed`` and its own number,
    so a run is reproducible; the fitted model pickles with the detector.  Heavier per
    reading than :class:`CameraForest` (one scikit-learn call), so it is an option of
    the city set, not its default.
    """

    __slots__ = (
        "_fits",
        "_model",
        "_n",
        "_window",
        "max_flow",
        "max_speed",
        "n_estimators",
        "refit_every",
        "seed",
        "warm_up",
        "window",
    )

    def __init__(
        self,
        *,
        seed: int,
        n_estimators: int = 50,
        window: int = 500,
        refit_every: int = 250,
        warm_up: int = 200,
        max_flow: float = 200.0,
        max_speed: float = 150.0,
    ) -> None:
        check(n_estimators >= 1 and window >= 10 and refit_every >= 1, "bad forest size")
        check(10 <= warm_up <= window, "warm_up must be in [10, window]")
        check(max_flow > 0 and max_speed > 0, "limits must be positive")
        self.seed = seed
        self.n_estimators = n_estimators
        self.window = window
        self.refit_every = refit_every
        self.warm_up = warm_up
        self.max_flow = max_flow
        self.max_speed = max_speed
        self._window: deque[tuple[float, float, float]] = deque(maxlen=window)
        self._model: Any = None
        self._n = 0
        self._fits = 0

    def _refit(self) -> None:
        import numpy as np
        from sklearn.ensemble import IsolationForest

        model = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(256, len(self._window)),
            random_state=(self.seed * 1_000_003 + self._fits) % (2**32),
        )
        model.fit(np.asarray(self._window, dtype=float))
        self._model = model
        self._fits += 1

    def update(self, t: float, x: tuple[float, float, float]) -> float:
        flow, speed, occ = x
        if flow != flow or speed != speed or occ != occ:
            return 0.0
        if math.inf in (abs(flow), abs(speed), abs(occ)):
            return 0.0
        point = (
            min(max(flow / self.max_flow, 0.0), 1.0),
            min(max(speed / self.max_speed, 0.0), 1.0),
            min(max(occ, 0.0), 1.0),
        )
        score = 0.0
        if self._model is not None:
            import numpy as np

            s = -float(self._model.score_samples(np.asarray([point]))[0])
            score = clip01((s - 0.5) / 0.5)
        self._window.append(point)
        self._n += 1
        if self._n == self.warm_up or (
            self._model is not None and (self._n - self.warm_up) % self.refit_every == 0
        ):
            self._refit()
        return score
