"""The agencies' ratings page: a period (dates in the region's zone, the last full ISO
week by default), the tables by agency and by sector block, the sensors-first figures and
the formula in plain words.  Aggregates only: every operator sees every agency's row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from appeals.analysis import (
    MIN_RANKED,
    Rating,
    RatingBy,
    SensorsFirst,
    last_full_week,
    ratings,
    sensors_first_figures,
)
from console._errors import BadFilter

MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    """``first`` to ``last`` day inclusive, in the region's zone."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone)


@dataclass(frozen=True, slots=True)
class RatingsView:
    period: Period
    by_agency: list[Rating]
    by_sector: list[Rating]
    sensors_first: SensorsFirst
    sensors_first_by_sector: dict[str, SensorsFirst]
    min_ranked: int


def parse_period(query: Mapping[str, str], zone: ZoneInfo, now: datetime) -> Period:
    """``from`` and ``to`` (ISO dates, inclusive) from the query; the last full week by
    default; :class:`BadFilter` names a wrong one."""
    first = last_full_week(now, zone)
    last = first + timedelta(days=6)
    for name in ("from", "to"):
        raw = query.get(name, "").strip()
        if not raw:
            continue
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            raise BadFilter(name, "a date like 2026-11-23") from None
        if name == "from":
            first = value
        else:
            last = value
    if last < first:
        raise BadFilter("to", "not before from")
    if (last - first).days >= MAX_DAYS:
        raise BadFilter("to", f"at most {MAX_DAYS} days")
    return Period(first, last, zone)


def load_ratings(conn: psycopg.Connection[Any], period: Period) -> RatingsView:
    """Both tables and the sensors-first figures for ``period``."""
    since, until = period.since, period.until
    overall, per_sector = sensors_first_figures(conn, since, until)
    return RatingsView(
        period=period,
        by_agency=ratings(conn, since, until, by=RatingBy.AGENCY),
        by_sector=ratings(conn, since, until, by=RatingBy.SECTOR),
        sensors_first=overall,
        sensors_first_by_sector=per_sector,
        min_ranked=MIN_RANKED,
    )
