"""Surges: a cell receives more appeals than its own weekly-seasonal normal allows.

Cells are (sector block × district) and (service × district); an appeal with no district
counts in the cell whose district is empty.  Every appeal received counts, whatever its
source (citizen, sensor, system) or later fate: duplicates grouped under another appeal
and appeals later rejected are still appeals the center received, and counting them
regardless of status keeps a re-run from scratch identical to the continuous one.

Each cell has a :class:`detectors.SeasonalCounts` over its hourly counts (hour of week
in the region's time zone), whose shape prior is the all-cells weekly shape.  Hours are
processed once closed; the current, incomplete hour is not judged (up to an hour of lag
for surges; clusters and recurrences see appeals at once).  A point opens when the CUSUM
reaches ``h`` and lasts until its statistic is back to 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from appeals.analysis._records import TensionKind
from appeals.analysis._tension_base import Ending, Finding
from detectors import SeasonalCounts, poisson_quantile, weekly_shape

HOUR = timedelta(hours=1)
#: weekly shape refreshed after this many processed hours (and at each update)
_SHAPE_EVERY = 24


@dataclass(frozen=True, slots=True)
class SurgeConfig:
    """The surge detector's parameters; ``h`` sets the false-alarm rate (see README)."""

    h: float = 10.0
    ratio: float = 2.0
    memory_weeks: int = 6
    prior_weight: float = 50.0
    warm_weeks: int = 2
    low_q: float = 0.1
    high_q: float = 0.9

    def detector(self, utc_offset_s: float) -> SeasonalCounts:
        return SeasonalCounts(
            h=self.h,
            ratio=self.ratio,
            memory=self.memory_weeks,
            prior_weight=self.prior_weight,
            warm_periods=self.warm_weeks,
            utc_offset_s=utc_offset_s,
        )


_COUNTS = """
SELECT date_trunc('hour', requested_at) AS hour, sector, service_code, district,
       count(*) AS n, max(id) AS last_id
FROM appeals
WHERE requested_at >= %(start)s AND requested_at < %(end)s
GROUP BY 1, 2, 3, 4
ORDER BY 1
"""

_FIRST = "SELECT min(requested_at) AS first FROM appeals WHERE requested_at < %(end)s"

_MEMBERS = """
SELECT id, requested_at FROM appeals
WHERE requested_at >= %(start)s AND requested_at < %(end)s AND district = %(district)s
  AND (CASE WHEN %(cell)s = 'sector' THEN sector ELSE service_code END) = %(value)s
ORDER BY requested_at, id
"""


def floor_hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def cell_key(cell: str, value: str, district: str) -> str:
    """The point key of a cell: ``sector:Дороги:Ленинский округ``."""
    return f"{cell}:{value}:{district}"


@dataclass(slots=True)
class _Run:
    """A point being followed within one update (latched from an earlier one, or new)."""

    key: str
    sector: str
    detected_at: datetime
    ended_at: datetime | None = None
    start: float = 0.0
    count: float = 0.0
    expected: float = 0.0
    last: datetime | None = None


class Surges:
    """The surge computation over all cells, its state a JSON checkpoint."""

    def __init__(self, config: SurgeConfig, utc_offset_s: float, state: Mapping[str, Any]):
        self.config = config
        self.offset = utc_offset_s
        self.cells: dict[str, SeasonalCounts] = {}
        self.sectors: dict[str, str] = dict(state.get("sectors", {}))
        self.latched: dict[str, str] = dict(state.get("latched", {}))  # key -> detected_at
        self.next_hour: datetime | None = (
            datetime.fromisoformat(state["next_hour"]) if state.get("next_hour") else None
        )
        self.hours = int(state.get("hours", 0))
        for key, cell_state in state.get("cells", {}).items():
            d = config.detector(utc_offset_s)
            d.load_state(cell_state)
            self.cells[key] = d
        self._refresh_shape()

    def state(self) -> dict[str, Any]:
        return {
            "next_hour": None if self.next_hour is None else self.next_hour.isoformat(),
            "hours": self.hours,
            "sectors": self.sectors,
            "latched": self.latched,
            "cells": {k: d.to_state() for k, d in sorted(self.cells.items())},
        }

    def _refresh_shape(self) -> None:
        """The all-cells weekly shape, the prior of each cell's normal."""
        if not self.cells:
            return
        some = next(iter(self.cells.values()))
        total = [0.0] * some.bins
        for d in self.cells.values():
            for b, m in enumerate(d.to_state()["mean"]):
                total[b] += m
        shape = weekly_shape(total, int(86400 // some.bin_s))
        for d in self.cells.values():
            d.shape = shape

    def _new_cell(self, key: str, hour: datetime) -> SeasonalCounts:
        """A cell first seen now: its past hours since the stream began were zeros."""
        d = self.config.detector(self.offset)
        some = next(iter(self.cells.values()), None)
        if some is not None:
            d.shape = some.shape
        past = min(self.hours, self.config.memory_weeks * d.bins)
        for i in range(past, 0, -1):
            d.update((hour - i * HOUR).timestamp(), 0.0)
        self.cells[key] = d
        return d

    def update(
        self, conn: psycopg.Connection[Any], now: datetime
    ) -> tuple[list[Finding | Ending], int]:
        """Process every closed hour up to ``now``; the findings and the last appeal id."""
        end = floor_hour(now)
        start = self.next_hour
        if start is None:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(_FIRST, {"end": end})
                row = cur.fetchone()
            if row is None or row["first"] is None:
                return [], 0
            start = floor_hour(row["first"])
        if start >= end:
            return [], 0
        counts: dict[datetime, dict[str, float]] = {}
        last_id = 0
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_COUNTS, {"start": start, "end": end})
            for row in cur:
                hour = row["hour"].astimezone(UTC)
                n = float(row["n"])
                last_id = max(last_id, int(row["last_id"]))
                slot = counts.setdefault(hour, {})
                district = row["district"]
                for key in (
                    cell_key("sector", row["sector"], district),
                    cell_key("service", row["service_code"], district),
                ):
                    slot[key] = slot.get(key, 0.0) + n
                    self.sectors.setdefault(key, row["sector"])
        runs = self._step(start, end, counts)
        self.next_hour = end
        return self._findings(conn, runs), last_id

    def _step(
        self, start: datetime, end: datetime, counts: Mapping[datetime, Mapping[str, float]]
    ) -> list[_Run]:
        runs: list[_Run] = []
        open_runs: dict[str, _Run] = {
            key: _Run(key, self.sectors.get(key, ""), datetime.fromisoformat(at))
            for key, at in self.latched.items()
        }
        runs.extend(open_runs.values())
        hour = start
        while hour < end:
            slot = counts.get(hour, {})
            for key in slot:
                if key not in self.cells:
                    self._new_cell(key, hour)
            t = hour.timestamp()
            hour_end = hour + HOUR
            for key, d in self.cells.items():
                d.update(t, slot.get(key, 0.0))
                run = open_runs.get(key)
                if run is None and d.alarmed:
                    run = _Run(key, self.sectors.get(key, ""), hour_end)
                    open_runs[key] = run
                    runs.append(run)
                if run is None:
                    continue
                span = d.run
                if span is None:
                    run.ended_at = hour_end
                    del open_runs[key]
                else:
                    run.start, run.count, run.expected = span
                    run.last = hour_end
            self.hours += 1
            if self.hours % _SHAPE_EVERY == 0:
                self._refresh_shape()
            hour = hour_end
        self.latched = {k: r.detected_at.isoformat() for k, r in open_runs.items()}
        return runs

    def _findings(
        self, conn: psycopg.Connection[Any], runs: Iterable[_Run]
    ) -> list[Finding | Ending]:
        out: list[Finding | Ending] = []
        cfg = self.config
        for run in runs:
            if run.last is None:  # latched, then ended at the first hour of this update
                if run.ended_at is None:
                    continue
                out.append(Ending(TensionKind.SURGE, run.key, run.ended_at))
                continue
            cell, value, district = run.key.split(":", 2)
            begin = datetime.fromtimestamp(run.start, UTC)
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    _MEMBERS,
                    {
                        "start": begin,
                        "end": run.last,
                        "district": district,
                        "cell": cell,
                        "value": value,
                    },
                )
                members = cur.fetchall()
            expected = max(run.expected, 1e-9)
            facts = {
                "count": int(run.count),
                "window_h": round((run.last - begin) / HOUR),
                "expected": round(expected, 1),
                "normal_low": poisson_quantile(expected, cfg.low_q),
                "normal_high": poisson_quantile(expected, cfg.high_q),
                "cell": cell,
            }
            out.append(
                Finding(
                    kind=TensionKind.SURGE,
                    key=run.key,
                    sector=run.sector,
                    district=district,
                    service_code=value if cell == "service" else "",
                    score=round(run.count / expected, 2) if math.isfinite(expected) else 0.0,
                    started_at=members[0]["requested_at"] if members else begin,
                    detected_at=run.detected_at,
                    facts=facts,
                    appeal_ids=tuple(m["id"] for m in members),
                    ended_at=run.ended_at,
                )
            )
        return out
