"""CameraIsolationForest scores exactly as scikit-learn's IsolationForest would."""

from __future__ import annotations

import random

import numpy as np
from sklearn.ensemble import IsolationForest

from detectors import CameraIsolationForest
from detectors._multivariate import _f32


def test_python_tree_walk_equals_score_samples() -> None:
    det = CameraIsolationForest(seed=3, n_estimators=20, window=200, refit_every=100, warm_up=100)
    rng = random.Random(1)
    for i in range(150):
        det.update(60.0 * i, (rng.gauss(30, 5), rng.gauss(55, 6), rng.gauss(0.15, 0.03)))
    reference = IsolationForest(
        n_estimators=20, max_samples=100, random_state=3 * 1_000_003 % 2**32
    ).fit(np.asarray(list(det._window)[:100], dtype=np.float32))
    points = [(rng.random(), rng.random(), rng.random()) for _ in range(200)]
    ours = [det.raw_score((_f32(a), _f32(b), _f32(c))) for a, b, c in points]
    theirs = (-reference.score_samples(np.asarray(points, dtype=np.float32))).tolist()
    assert np.allclose(ours, theirs, rtol=0, atol=1e-12)


def test_an_impossible_combination_scores_high_once_fitted() -> None:
    det = CameraIsolationForest(seed=0, n_estimators=30, window=300, refit_every=100, warm_up=200)
    rng = random.Random(2)
    scores = [
        det.update(60.0 * i, (rng.gauss(30, 4), rng.gauss(55, 4), rng.gauss(0.15, 0.02)))
        for i in range(300)
    ]
    assert scores[:200] == [0.0] * 200
    assert max(scores[200:]) < 0.5
    assert det.update(60.0 * 300, (30.0, 5.0, 0.9)) > 0.5  # a full lane at walking pace
