"""Multivariate camera detectors: flow, speed and occupancy judged together.

:class:`CameraForest` (river HalfSpaceTrees, learning online) and
:class:`CameraIsolationForest` (scikit-learn IsolationForest, refitted periodically).
"""

from __future__ import annotations

import math
import struct
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


def _average_path_length(n: int) -> float:
    """c(n): the mean path length of an unsuccessful search in a binary search tree of n."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n


class _Tree:
    """One fitted isolation tree as plain lists: walked in Python, pickled small."""

    __slots__ = ("feature", "leaf", "left", "right", "threshold")

    def __init__(self, tree: Any) -> None:
        t = tree.tree_
        self.left: list[int] = t.children_left.tolist()
        self.right: list[int] = t.children_right.tolist()
        self.feature: list[int] = t.feature.tolist()
        self.threshold: list[float] = t.threshold.tolist()
        samples: list[int] = t.n_node_samples.tolist()
        depth = [0] * len(self.left)
        for node in range(len(self.left)):  # parents come before their children
            for child in (self.left[node], self.right[node]):
                if child != -1:
                    depth[child] = depth[node] + 1
        self.leaf = [d + _average_path_length(n) for d, n in zip(depth, samples, strict=True)]

    def path(self, x: tuple[float, float, float]) -> float:
        node, left = 0, self.left
        while left[node] != -1:
            node = left[node] if x[self.feature[node]] <= self.threshold[node] else self.right[node]
        return self.leaf[node]


class CameraIsolationForest(Detector[tuple[float, float, float]]):
    """A scikit-learn IsolationForest over ``(intensity, speed km/h, occupancy)`` per
    camera, refitted every ``refit_every`` readings on the last ``window`` of them.

    Scores 0 until the first fit (``warm_up`` readings), then the forest's anomaly score
    s = 2^(-E[h(x)] / c(max_samples)) (0.5 for an ordinary point, towards 1 for an
    isolated one, as scikit-learn's ``score_samples`` computes it) mapped to
    ``(s - 0.5) / 0.25`` in [0, 1] (0.75, a clearly isolated point, and above score 1).
    scikit-learn fits; the fitted trees are copied into plain lists and walked in
    Python, because one ``score_samples`` call per reading costs milliseconds.  Each fit
    is seeded with ``seed`` and its own number, so a run is reproducible; the trees
    pickle with the detector.
    """

    __slots__ = (
        "_c",
        "_fits",
        "_n",
        "_trees",
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
        self._trees: list[_Tree] = []
        self._c = 1.0
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
        model.fit(np.asarray(self._window, dtype=np.float32))
        self._trees = [_Tree(e) for e in model.estimators_]
        self._c = _average_path_length(int(model.max_samples_))
        self._fits += 1

    def raw_score(self, point: tuple[float, float, float]) -> float:
        """scikit-learn's anomaly score of a scaled ``point`` (0.5 ordinary, 1 isolated)."""
        mean = sum(t.path(point) for t in self._trees) / len(self._trees)
        return float(2.0 ** (-mean / self._c))

    def update(self, t: float, x: tuple[float, float, float]) -> float:
        flow, speed, occ = x
        if flow != flow or speed != speed or occ != occ:
            return 0.0
        if math.inf in (abs(flow), abs(speed), abs(occ)):
            return 0.0
        # The trees compare float32 values, as scikit-learn does.
        point = (
            _f32(min(max(flow / self.max_flow, 0.0), 1.0)),
            _f32(min(max(speed / self.max_speed, 0.0), 1.0)),
            _f32(min(max(occ, 0.0), 1.0)),
        )
        score = 0.0
        if self._trees:
            score = clip01((self.raw_score(point) - 0.5) / 0.25)
        self._window.append(point)
        self._n += 1
        if self._n == self.warm_up or (
            self._trees and (self._n - self.warm_up) % self.refit_every == 0
        ):
            self._refit()
        return score


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]  # type: ignore[no-any-return]
