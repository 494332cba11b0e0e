"""Measure how long the console script takes to start: `citypulse --help` and every
`citypulse <command> --help`, against `python -c pass` in the same run.

Each runs --runs times (5; 3 with --quick) as `python -m citypulse.cli ...` (the code
importable from the current directory) in a fresh interpreter, round-robin so that
other load on the machine falls on all of them alike, after one untimed run each.  The
figures are medians of wall time and of the child's CPU time (user + system), which
load on the machine inflates less.  Modules are compiled once into a private bytecode
cache, as an installed citypulse has them; `citypulse --help` is also timed without any
cache (PYTHONDONTWRITEBYTECODE=1: every module of ours compiled from source each time).
The target is under 0.3 s of wall time for every help page;
tests/citypulse/test_cli_startup.py keeps it there by checking that no help page imports
a heavy library.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from citypulse import Settings, positive_int
from citypulse.cli import commands

HELP = "measure how fast the console script starts"
TARGET_S = 0.3
BASELINE = "python -c pass"
TOP = "citypulse --help"
UNCACHED = "citypulse --help, no bytecode cache"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", type=positive_int, default=None, help="runs of each (default 5; 3 with --quick)"
    )


@dataclass(frozen=True, slots=True)
class Timing:
    """Median seconds of one command line."""

    wall: float
    cpu: float


def _cases() -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "citypulse.cli"]
    cases = {BASELINE: [sys.executable, "-c", "pass"], TOP: [*cli, "--help"]}
    for command in commands():
        cases[f"citypulse {' '.join(command.path)} --help"] = [*cli, *command.path, "--help"]
    cases[UNCACHED] = [*cli, "--help"]
    return cases


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - this interpreter, our own console script
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def measure(runs: int) -> dict[str, Timing]:
    """Each case's median wall and CPU time over ``runs`` runs."""
    cases = _cases()
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory(prefix="citypulse-pycache-") as cache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache
        uncached = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        uncached.pop("PYTHONPYCACHEPREFIX", None)
        envs = {name: uncached if name == UNCACHED else cached for name in cases}
        for name, argv in cases.items():
            _once(argv, envs[name])
        for _ in range(runs):
            for name, argv in cases.items():
                wall, cpu = _once(argv, envs[name])
                walls[name].append(wall)
                cpus[name].append(cpu)
    return {
        name: Timing(statistics.median(walls[name]), statistics.median(cpus[name]))
        for name in cases
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    runs = args.runs or (3 if args.quick else 5)
    timings = measure(runs)
    baseline, top = timings[BASELINE], timings[TOP]
    pages = {k: v for k, v in timings.items() if k not in (BASELINE, UNCACHED)}
    slowest = max(pages, key=lambda name: pages[name].wall)
    result = {
        "runs": runs,
        "baseline_s": round(baseline.wall, 4),
        "help_s": round(top.wall, 4),
        "help_vs_baseline": round(top.wall / baseline.wall, 2),
        "help_cpu_s": round(top.cpu, 4),
        "help_uncached_s": round(timings[UNCACHED].wall, 4),
        "slowest": slowest,
        "slowest_s": round(pages[slowest].wall, 4),
        "target_s": TARGET_S,
        "pages_s": {name: round(t.wall, 4) for name, t in pages.items()},
        "quick": bool(args.quick),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"start-up, medians of {runs} runs each ({sys.executable}):")
    print(f"  {'':<44} {'wall':>7} {'cpu':>7}  wall / {BASELINE}")
    for name, t in timings.items():
        ratio = t.wall / baseline.wall
        print(f"  {name:<44} {t.wall:6.3f}s {t.cpu:6.3f}s  {ratio:5.1f}")
    verdict = "meets" if pages[slowest].wall < TARGET_S else "misses"
    print(f"  slowest help page: {slowest}, {pages[slowest].wall:.3f} s: {verdict} {TARGET_S} s")
    return 0
