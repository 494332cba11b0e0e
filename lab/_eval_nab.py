"""Score a detector configuration on NAB-format data, by the published NAB rules.

DATA_DIR holds CATEGORY/FILE.csv files (columns timestamp,value) and windows.json
(label windows, as NAB's labels/combined_windows.json).  Each file is run causally
through a fresh detector; with --out the scores are written to OUT/CATEGORY/FILE.csv as
timestamp,value,anomaly_score on exactly the input rows.  Reported: the normalised NAB
score (null detector 0, perfect 100) for the standard, reward_low_FP_rate and
reward_low_FN_rate profiles, each with one threshold optimised over the whole corpus,
and beside it the leave-one-category-out score: each category (a subfolder of DATA_DIR)
scored at the threshold optimised on the other categories, normalised once over all.
--quick scores every fourth file only (the figures are then not comparable to NAB's).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from citypulse import Settings, non_negative_int
from detectors._errors import DetectorConfigError, EvaluationDataError
from detectors._presets import NAB_PRESETS, nab_detector
from lab._nab_score import (
    PROFILES,
    LabelledFile,
    ProfileResult,
    category,
    score_corpus,
    score_loco,
)

HELP = "score detectors on NAB-format data"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", metavar="DATA_DIR", type=Path, help="NAB-format data")
    parser.add_argument("--out", type=Path, help="write per-file scores under this directory")
    parser.add_argument(
        "--detector",
        default="default",
        choices=sorted(NAB_PRESETS),
        help="detector configuration (default: %(default)s)",
    )
    parser.add_argument("--labels", type=Path, help="label windows (default DATA_DIR/windows.json)")
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="detector seed (default 0)"
    )


@dataclass(frozen=True, slots=True)
class DataFile:
    """One NAB data file as read: raw text rows, epoch times, values."""

    name: str
    rows: list[tuple[str, str]]
    times: list[float]
    values: list[float]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)


def read_file(root: Path, name: str) -> DataFile:
    path = root / name
    try:
        with path.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:2]] != ["timestamp", "value"]:
                raise EvaluationDataError("expected a timestamp,value header", path=str(path))
            rows = [(r[0], r[1]) for r in reader if r]
    except OSError as exc:
        raise EvaluationDataError(f"cannot read: {exc}", path=str(path)) from exc
    try:
        times = [_parse_time(ts).timestamp() for ts, _ in rows]
        values = [float(v) for _, v in rows]
    except ValueError as exc:
        raise EvaluationDataError(f"bad row: {exc}", path=str(path)) from exc
    return DataFile(name, rows, times, values)


def load_corpus(
    data_dir: Path, labels: Path | None = None
) -> tuple[list[DataFile], list[LabelledFile]]:
    """Read every labelled CATEGORY/FILE.csv and turn its windows into row ranges."""
    labels = labels or data_dir / "windows.json"
    try:
        windows: dict[str, list[list[str]]] = json.loads(labels.read_text())
    except (OSError, ValueError) as exc:
        raise EvaluationDataError(f"cannot read labels: {exc}", path=str(labels)) from exc
    data: list[DataFile] = []
    labelled: list[LabelledFile] = []
    for name in sorted(windows):
        df = read_file(data_dir, name)
        index: dict[float, int] = {}
        for i, t in enumerate(df.times):
            index.setdefault(t, i)  # NAB looks a window edge up with list.index: the first
        ranges: list[tuple[int, int]] = []
        for limits in windows[name]:
            try:
                lo, hi = (index[_parse_time(x).timestamp()] for x in limits)
            except (KeyError, ValueError) as exc:
                raise EvaluationDataError(
                    f"window {limits} does not match a timestamp of the file", path=name
                ) from exc
            ranges.append((lo, hi))
        data.append(df)
        labelled.append(LabelledFile(name, len(df.rows), tuple(sorted(ranges))))
    if not data:
        raise EvaluationDataError("no labelled files", path=str(labels))
    return data, labelled


def detect(df: DataFile, preset: str, seed: int) -> list[float]:
    """Run a fresh detector causally over one file."""
    d = nab_detector(preset, seed=seed)
    update = d.update
    return [update(t, x) for t, x in zip(df.times, df.values, strict=True)]


def write_scores(out: Path, df: DataFile, scores: list[float]) -> None:
    path = out / df.name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["timestamp", "value", "anomaly_score"])
        for (ts, v), s in zip(df.rows, scores, strict=True):
            w.writerow([ts, v, repr(s)])


def evaluate(
    data_dir: Path,
    *,
    preset: str = "default",
    seed: int = 0,
    out: Path | None = None,
    labels: Path | None = None,
    quick: bool = False,
) -> tuple[list[ProfileResult], dict[str, object]]:
    """Detect, optionally write scores, and score all three profiles."""
    if preset not in NAB_PRESETS:
        raise DetectorConfigError(f"unknown detector {preset!r}")
    data, labelled = load_corpus(data_dir, labels)
    if quick:
        data, labelled = data[::4], labelled[::4]
    started = time.perf_counter()
    scores: dict[str, list[float]] = {}
    for df in data:
        scores[df.name] = detect(df, preset, seed)
        if out is not None:
            write_scores(out, df, scores[df.name])
    elapsed = time.perf_counter() - started
    rows = sum(len(df.rows) for df in data)
    results = [score_corpus(labelled, scores, p) for p in PROFILES]
    if len({category(f) for f in labelled}) > 1:
        results = [
            replace(r, loco=score_loco(labelled, scores, p))
            for r, p in zip(results, PROFILES, strict=True)
        ]
    meta: dict[str, object] = {
        "detector": preset,
        "seed": seed,
        "files": len(data),
        "rows": rows,
        "windows": sum(len(f.windows) for f in labelled),
        "detect_seconds": round(elapsed, 3),
        "quick": quick,
    }
    return results, meta


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        results, meta = evaluate(
            args.data_dir,
            preset=args.detector,
            seed=args.seed,
            out=args.out,
            labels=args.labels,
            quick=args.quick,
        )
    except EvaluationDataError as exc:
        print(f"citypulse eval nab: {exc}", file=sys.stderr)
        return 1
    if args.json:
        doc = dict(meta)
        doc["profiles"] = {
            r.profile: {
                "score": round(r.normalised, 2),
                "threshold": r.threshold,
                "raw": r.raw,
                "null": r.null,
                "perfect": r.perfect,
                "tp": r.counts.tp,
                "fp": r.counts.fp,
                "fn": r.counts.fn,
                "tn": r.counts.tn,
                "leave_one_category_out": None
                if r.loco is None
                else {
                    "score": round(r.loco.normalised, 2),
                    "thresholds": dict(r.loco.thresholds),
                    "raw": r.loco.raw,
                },
            }
            for r in results
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(
        f"NAB evaluation of {meta['detector']!r} on {meta['files']} files, {meta['rows']} rows, "
        f"{meta['windows']} windows (detection took {meta['detect_seconds']} s)"
    )
    if args.quick:
        print("quick run: a quarter of the files, not comparable with published NAB scores")
    print(f"{'profile':<20} {'score':>7} {'threshold':>10} {'TP rows':>8} {'FP rows':>8}")
    for r in results:
        print(
            f"{r.profile:<20} {r.normalised:7.1f} {r.threshold:10.4f} "
            f"{r.counts.tp:8d} {r.counts.fp:8d}"
        )
    for r in results:
        if r.loco is not None:
            chosen = ", ".join(f"{c} {t:.4f}" for c, t in r.loco.thresholds.items())
            print(
                f"{r.profile:<20} {r.loco.normalised:7.1f} leave-one-category-out "
                f"(threshold from the other categories: {chosen})"
            )
    return 0
