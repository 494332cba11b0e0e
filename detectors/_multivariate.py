"""Multivariate camera detector: flow, speed and occupancy judged together."""

from __future__ import annotations

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
