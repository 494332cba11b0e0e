"""NAB scoring, following the published rules of NAB v1.1 (numenta/NAB ``nab/sweeper.py``).

* Each file's first min(floor(15 % of rows), 750) rows are probationary: not scored.
* Inside a label window a detection earns ``tpWeight`` × S(p) / S(-1), S the scaled
  sigmoid 2/(1+e^{5p}) - 1 and p = -(right - i + 1) / width; only the best (earliest)
  detection in a window counts.  A window without detection costs ``fnWeight``.
* Outside windows each detection costs ``fpWeight`` × S(p) (negative), p measured from
  the end of the previous window in window widths (a full ``fpWeight`` before any window).
* One threshold per profile is chosen over the whole corpus by sweeping every distinct
  score; ties go to the higher threshold.
* Scores are normalised to 100 × (S - S_null) / (S_perfect - S_null), where the null
  detector reports a constant 0.5 and S_perfect is one ``tpWeight`` per label window.
* Leave one category out (not part of NAB): each category (the folder of a file's name)
  is scored at the threshold optimised on the other categories' files; the raw scores
  of all files are added and normalised once with the whole corpus's null and perfect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PROBATION_PERCENT = 0.15


@dataclass(frozen=True, slots=True)
class Profile:
    """A NAB application profile (its cost matrix)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", 1.0, 0.11, 1.0),
    Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
)


@dataclass(frozen=True, slots=True)
class LabelledFile:
    """One data file's row count and label windows as inclusive row-index ranges."""

    name: str
    n_rows: int
    windows: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Counts:
    tp: int = 0
    tn: int = 0
    fp: int = 0
    fn: int = 0


@dataclass(frozen=True, slots=True)
class LocoResult:
    """The leave-one-category-out result for one profile."""

    profile: str
    thresholds: Mapping[str, float]
    raw: float
    null: float
    perfect: float

    @property
    def normalised(self) -> float:
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


@dataclass(frozen=True, slots=True)
class ProfileResult:
    """The corpus result for one profile."""

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    counts: Counts
    per_file: Mapping[str, float] = field(default_factory=dict)
    loco: LocoResult | None = None

    @property
    def normalised(self) -> float:
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def probation_length(n_rows: int) -> float:
    """NAB's ``getProbationPeriod``: rows with index below this are not scored."""
    return min(math.floor(PROBATION_PERCENT * n_rows), PROBATION_PERCENT * 5000)


def scaled_sigmoid(p: float) -> float:
    if p >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * p)) - 1.0


_MAX_TP = scaled_sigmoid(-1.0)


# (anomaly score, sweep score if this row were a detection, window id or -1 outside)
_Point = tuple[float, float, int]


def _sweep(f: LabelledFile, scores: Sequence[float], profile: Profile, base: int) -> list[_Point]:
    """Per-row sweep scores (``Sweeper.calcSweepScore``), probationary rows dropped."""
    prob = probation_length(f.n_rows)
    out: list[_Point] = []
    windows = list(f.windows)
    cur: tuple[int, int] | None = None
    cur_id = -1
    prev_right: int | None = None
    prev_width = 0.0
    wid = base - 1
    for i in range(f.n_rows):
        if cur is None and windows and i == windows[0][0]:
            cur = windows.pop(0)
            wid += 1
            cur_id = wid
        if cur is not None:
            width = float(cur[1] - cur[0] + 1)
            weight = scaled_sigmoid(-(cur[1] - i + 1) / width) * profile.tp_weight / _MAX_TP
            window = cur_id
        else:
            if prev_right is None:
                pos = 3.0
            elif prev_width > 1:
                pos = abs(prev_right - i) / (prev_width - 1.0)
            else:  # a one-row window: NAB divides by zero here; treat as far away
                pos = 3.0
            weight = scaled_sigmoid(pos) * profile.fp_weight
            window = -1
        if i >= prob:
            out.append((scores[i], weight, window))
        if cur is not None and i == cur[1]:
            prev_right = i
            prev_width = float(cur[1] - cur[0] + 1)
            cur = None
    return out


def _window_ids(files: Sequence[LabelledFile]) -> list[int]:
    bases, base = [], 0
    for f in files:
        bases.append(base)
        base += len(f.windows)
    return bases


def best_threshold(
    files: Sequence[LabelledFile], scores: Mapping[str, Sequence[float]], profile: Profile
) -> tuple[float, float]:
    """The corpus-wide threshold with the highest raw score (``optimizer.optimizeThreshold``)."""
    points: list[_Point] = []
    for f, base in zip(files, _window_ids(files), strict=True):
        points.extend(_sweep(f, scores[f.name], profile, base))
    points.sort(key=lambda p: p[0], reverse=True)
    parts: dict[int, float] = {w: -profile.fn_weight for _, _, w in points if w >= 0}
    total = sum(parts.values())
    fp = 0.0
    best_t, best_s = 1.1, total + fp
    cur_t = 1.1
    for score, weight, window in points:
        if score != cur_t:
            s = total + fp
            if s > best_s:
                best_t, best_s = cur_t, s
            cur_t = score
        if window < 0:
            fp += weight
        elif weight > parts[window]:
            total += weight - parts[window]
            parts[window] = weight
    s = total + fp
    if s > best_s:
        best_t, best_s = cur_t, s
    return best_t, best_s


def score_file(
    f: LabelledFile, scores: Sequence[float], profile: Profile, threshold: float
) -> tuple[float, Counts]:
    """One file's raw score at ``threshold`` (``Sweeper.scoreDataSet``) and its row counts."""
    parts: dict[int, float] = {}
    fp_score = 0.0
    tp = tn = fp = fn = 0
    for score, weight, window in _sweep(f, scores, profile, 0):
        hit = score >= threshold
        if window >= 0:
            parts.setdefault(window, -profile.fn_weight)
            if hit:
                tp += 1
                if weight > parts[window]:
                    parts[window] = weight
            else:
                fn += 1
        elif hit:
            fp += 1
            fp_score += weight
        else:
            tn += 1
    return sum(parts.values()) + fp_score, Counts(tp, tn, fp, fn)


def score_corpus(
    files: Sequence[LabelledFile], scores: Mapping[str, Sequence[float]], profile: Profile
) -> ProfileResult:
    """Optimise the threshold, score every file, and normalise against null and perfect."""
    threshold, _ = best_threshold(files, scores, profile)
    raw = 0.0
    per_file: dict[str, float] = {}
    tp = tn = fp = fn = 0
    for f in files:
        s, c = score_file(f, scores[f.name], profile, threshold)
        per_file[f.name] = s
        raw += s
        tp, tn, fp, fn = tp + c.tp, tn + c.tn, fp + c.fp, fn + c.fn
    null, perfect = _anchors(files, profile)
    return ProfileResult(
        profile=profile.name,
        threshold=threshold,
        raw=raw,
        null=null,
        perfect=perfect,
        counts=Counts(tp, tn, fp, fn),
        per_file=per_file,
    )


def _anchors(files: Sequence[LabelledFile], profile: Profile) -> tuple[float, float]:
    """The corpus's null (constant 0.5 at its best threshold) and perfect raw scores."""
    null_scores = {f.name: [0.5] * f.n_rows for f in files}
    null_t, _ = best_threshold(files, null_scores, profile)
    null = sum(score_file(f, null_scores[f.name], profile, null_t)[0] for f in files)
    return null, profile.tp_weight * sum(len(f.windows) for f in files)


def category(f: LabelledFile) -> str:
    """A file's category: the folder of its name (``realKnownCause/x.csv``)."""
    return f.name.split("/", 1)[0] if "/" in f.name else ""


def score_loco(
    files: Sequence[LabelledFile], scores: Mapping[str, Sequence[float]], profile: Profile
) -> LocoResult:
    """Score each category at the threshold optimised on the other categories' files."""
    names = sorted({category(f) for f in files})
    if len(names) < 2:
        raise ValueError("leave-one-category-out needs at least two categories")
    thresholds: dict[str, float] = {}
    raw = 0.0
    for name in names:
        others = [f for f in files if category(f) != name]
        thresholds[name], _ = best_threshold(others, scores, profile)
        raw += sum(
            score_file(f, scores[f.name], profile, thresholds[name])[0]
            for f in files
            if category(f) == name
        )
    null, perfect = _anchors(files, profile)
    return LocoResult(profile.name, thresholds, raw, null, perfect)
