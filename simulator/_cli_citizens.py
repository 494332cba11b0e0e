"""``citypulse simulate --citizens URL``: citizens' reports posted beside the devices.

A context manager: entering draws the reports and surges, writes their ground truth and
starts posting in a thread paced like the devices' messages; leaving waits for it (or
stops it when the devices' run failed) and rewrites the ground truth with the appeal id
each report got.  A refused report or an unreachable API ends the run with its error.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType

from citypulse import ConfigError, Settings
from simulator._citizen_rates import Scale
from simulator._citizens import CitizenReport, citizen_reports, write_citizens_truth
from simulator._citizens_publish import CitizenPoster, PostReport, post_reports
from simulator._city import City
from simulator._errors import SimulatorError
from simulator._faults import Fault
from simulator._surges import random_surges

KEY_VARIABLE = "CITYPULSE_CITIZENS_API_KEY"


class CitizensRun:
    """Citizens of one ``simulate`` run (see the module docstring)."""

    def __init__(
        self,
        args: argparse.Namespace,
        settings: Settings,
        *,
        city: City,
        faults: Sequence[Fault],
        start: datetime,
        end: datetime,
        speed: float | None,
    ) -> None:
        if not settings.citizens_api_key:
            raise ConfigError(
                KEY_VARIABLE, "--citizens needs a reporter key (citypulse keys add --role reporter)"
            )
        self.city = city
        self.scale = Scale.parse(args.citizens_scale)
        self.truth_path: str = args.citizens_truth
        self.quiet: bool = args.quiet
        self.speed = speed
        self.start = start
        self.surges = random_surges(
            city,
            start=start,
            end=end,
            per_week=args.surges,
            seed=args.seed + 2,
            multiplier=args.surge_multiplier,
            duration=args.surge_duration,
        )
        self.reports = citizen_reports(
            city,
            start=start,
            end=end,
            scale=self.scale,
            seed=args.seed,
            surges=self.surges,
            faults=faults,
        )
        write_citizens_truth(
            self.truth_path, self.reports, self.surges, city=city, scale=self.scale
        )
        self.poster = CitizenPoster(
            args.citizens, api_key=settings.citizens_api_key.value, seed=args.seed
        )
        self.result: PostReport | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="citizens", daemon=True)
        print(
            f"simulate: {len(self.reports)} citizens' reports ({self.scale.name.lower()} scale), "
            f"{len(self.surges)} surges, to {args.citizens}; ground truth in {self.truth_path}",
            file=sys.stderr,
        )

    def _show(self, n: int, report: CitizenReport) -> None:
        if not self.quiet and n % 200 == 0:
            at = report.time.isoformat(timespec="seconds")
            print(f"simulate: posted {n} citizens' reports, simulated {at}", file=sys.stderr)

    def _run(self) -> None:
        try:
            self.result = post_reports(
                self.reports,
                self.poster,
                speed=self.speed,
                sim_start=self.start,
                progress=self._show,
            )
        except BaseException as exc:  # handed to the main thread in __exit__
            self.error = exc
            print(f"simulate: citizens' reports stopped: {exc}", file=sys.stderr)

    def __enter__(self) -> CitizensRun:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.poster.stop()
        self._thread.join()
        self.poster.close()
        if exc is not None:
            return
        if self.error is not None:
            if isinstance(self.error, SimulatorError):
                raise self.error
            raise SimulatorError(f"posting citizens' reports failed: {self.error}") from self.error
        assert self.result is not None
        write_citizens_truth(
            self.truth_path,
            self.reports,
            self.surges,
            city=self.city,
            scale=self.scale,
            appeal_ids=self.result.appeal_ids,
        )
        print(
            f"simulate: posted {self.result.posted} citizens' reports in "
            f"{self.result.wall_s:.1f} s ({self.result.retries} retries)",
            file=sys.stderr,
        )
