"""The contract every detector keeps: finite scores in [0, 1], 0 until warm,
deterministic under a seed, unchanged by a pickle round trip, and causal."""

from __future__ import annotations

import math
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detectors as d
from tests.detectors._cases import CASES, T0, Case

N = 600
ids = [c.name for c in CASES]


def _run(det: d.Detector[Any], stream: list[tuple[float, Any]]) -> list[float]:
    return [det.update(t, x) for t, x in stream]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_scores_are_finite_and_in_range(case: Case) -> None:
    scores = _run(case.make(1), case.stream(1, N))
    assert all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_the_planted_fault_is_scored(case: Case) -> None:
    scores = _run(case.make(1), case.stream(1, N))
    assert max(scores) >= 0.5 or (case.name == "silence")


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_zero_until_warm(case: Case) -> None:
    det = case.make(2)
    scores = _run(det, case.stream(2, N))
    assert scores[: det.warm_up] == [0.0] * min(det.warm_up, N)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_deterministic_under_a_seed(case: Case) -> None:
    stream = case.stream(3, N)
    assert _run(case.make(7), stream) == _run(case.make(7), stream)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_survives_pickling_mid_stream(case: Case) -> None:
    stream = case.stream(4, N)
    det = case.make(4)
    _run(det, stream[: N // 2])
    restored = pickle.loads(pickle.dumps(det))
    rest = stream[N // 2 :]
    assert _run(restored, rest) == _run(det, rest)
    now = stream[-1][0] + 7200.0
    assert restored.tick(now) == det.tick(now)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_does_not_look_ahead(case: Case) -> None:
    full = case.stream(5, N)
    prefix = full[: N // 3]
    assert _run(case.make(5), prefix) == _run(case.make(5), full)[: len(prefix)]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_clone_is_fresh_with_the_same_arguments(case: Case) -> None:
    stream = case.stream(6, N)
    det = case.make(6)
    first = _run(det, stream)
    twin = det.clone()
    assert repr(twin) == repr(det)
    assert _run(twin, stream) == first


@pytest.mark.parametrize("case", [c for c in CASES if c.numeric], ids=lambda c: c.name)
@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(min_value=-1e12, max_value=1e12),
            st.sampled_from([math.nan, math.inf, -math.inf, 0.0]),
        ),
        min_size=1,
        max_size=300,
    ),
    steps=st.lists(st.floats(min_value=0.0, max_value=7200.0), min_size=1, max_size=300),
)
def test_any_float_stream_scores_in_range(
    case: Case, values: list[float], steps: list[float]
) -> None:
    det = case.make(0)
    t = T0
    for i, x in enumerate(values):
        t += steps[i % len(steps)]
        s = det.update(t, x)
        assert math.isfinite(s)
        assert 0.0 <= s <= 1.0
        assert 0.0 <= det.tick(t + 1.0) <= 1.0


@settings(max_examples=30, deadline=None)
@given(
    level=st.floats(min_value=-1e6, max_value=1e6),
    noise=st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=50, max_size=200),
)
def test_statistical_scores_are_shift_invariant(level: float, noise: list[float]) -> None:
    """Adding a constant to a series changes nothing a deviation detector reports."""
    base = d.Deviation(rel_spread=0.0, min_spread=1e-6)
    shifted = d.Deviation(rel_spread=0.0, min_spread=1e-6)
    for i, x in enumerate(noise):
        a = base.update(T0 + i, x)
        b = shifted.update(T0 + i, x + level)
        assert a == pytest.approx(b, abs=1e-3)
