"""Types for command-line options, so that wrong input is refused while parsing.

Each turns the text of one option into a checked value or raises
:class:`argparse.ArgumentTypeError`; argparse then prints the command's usage and one line
naming the option, and exits with code 2, before the command starts anything.  Checks
that involve two options (``--from`` before ``--to``) stay in the command, as
:class:`ConfigError`.
"""

from __future__ import annotations

import logging
import math
import re
from argparse import ArgumentTypeError
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from citypulse._duration import parse_duration
from citypulse._errors import ConfigError
from citypulse._records import SLUG_RE
from citypulse._settings import MqttUrl, check_database_url, mask_url, split_url

T = TypeVar("T")


class IntRange:
    """An integer from ``low`` to ``high`` (either end ``None``: unbounded)."""

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low = low
        self.high = high

    def __repr__(self) -> str:
        return f"IntRange({self.low}, {self.high})"

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise ArgumentTypeError(f"expected an integer, got {text!r}") from exc
        _check_range(value, self.low, self.high)
        return value


class FloatRange:
    """A finite number from ``low`` to ``high``, or above ``above`` (exclusive)."""

    def __init__(
        self, low: float | None = None, high: float | None = None, *, above: float | None = None
    ) -> None:
        self.low = low
        self.high = high
        self.above = above

    def __repr__(self) -> str:
        return f"FloatRange({self.low}, {self.high}, above={self.above})"

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError as exc:
            raise ArgumentTypeError(f"expected a number, got {text!r}") from exc
        if not math.isfinite(value):
            raise ArgumentTypeError(f"expected a finite number, got {text!r}")
        if self.above is not None and not value > self.above:
            what = "positive" if self.above == 0 else f"above {self.above:g}"
            raise ArgumentTypeError(f"must be {what}, got {text}")
        _check_range(value, self.low, self.high)
        return value


def _check_range(value: float, low: float | None, high: float | None) -> None:
    if (low is None or value >= low) and (high is None or value <= high):
        return
    if high is None:
        raise ArgumentTypeError(f"must be at least {low:g}, got {value:g}")
    if low is None:
        raise ArgumentTypeError(f"must be at most {high:g}, got {value:g}")
    raise ArgumentTypeError(f"must be {low:g}..{high:g}, got {value:g}")


positive_int = IntRange(1)
non_negative_int = IntRange(0)
positive_float = FloatRange(above=0)
non_negative_float = FloatRange(0)
#: A TCP port to listen on or connect to; 0 asks the system for a free one.
tcp_port = IntRange(0, 65_535)


def _distinct(
    text: str, item: Callable[[str], T], what: tuple[str, str], example: str
) -> tuple[T, ...]:
    """Distinct values separated by commas, each checked by ``item``; ``what`` names one
    and several of them."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or not all(parts):
        raise ArgumentTypeError(
            f"expected {what[1]} separated by commas (e.g. {example}), got {text!r}"
        )
    values = tuple(item(p) for p in parts)
    if len(set(values)) != len(values):
        raise ArgumentTypeError(f"a {what[0]} is repeated in {text!r}")
    return values


def seed_list(text: str) -> tuple[int, ...]:
    """Distinct non-negative integers separated by commas: ``1,2,3``."""
    return _distinct(text, non_negative_int, ("seed", "seeds"), "1,2,3")


def severity_list(text: str) -> tuple[float, ...]:
    """Distinct positive numbers separated by commas: ``0.5,1``."""
    return _distinct(text, positive_float, ("severity", "severities"), "0.5,1")


def iso_time(text: str) -> datetime:
    """An ISO-8601 time with a UTC offset: ``2026-03-01T00:00+03:00`` or ``...Z``."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ArgumentTypeError(
            f"not an ISO-8601 time: {text!r} (e.g. 2026-03-01T00:00+03:00)"
        ) from exc
    if value.tzinfo is None:
        raise ArgumentTypeError(f"{text!r} needs a UTC offset (e.g. +03:00 or Z)")
    return value


_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})\Z")


def iso_week(text: str) -> date:
    """An ISO week, ``2026-W48``: the date of its Monday."""
    match = _ISO_WEEK.match(text.strip())
    if match is None:
        raise ArgumentTypeError(f"expected an ISO week like 2026-W48, got {text!r}")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ArgumentTypeError(f"{year} has no week {week}: {text!r}") from exc


def positive_duration(text: str) -> timedelta:
    """A positive duration: ``90s``, ``45m``, ``6h``, ``1d2h30m`` or bare seconds."""
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from exc
    if value <= timedelta(0):
        raise ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def folder(text: str) -> Path:
    """A folder, existing or not, but not some other file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise ArgumentTypeError(f"{text!r} exists and is not a folder")
    return path


def slug(text: str) -> str:
    """An ASCII slug, as a topic level or a district: ``leninsky``, ``tl-1``."""
    if not SLUG_RE.match(text):
        raise ArgumentTypeError(f"{text!r} must be an ASCII slug (letters, digits, - and _)")
    return text


def database_url(text: str) -> str:
    """A ``postgresql://`` URL."""
    try:
        return check_database_url(text)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from exc


def mqtt_url(text: str) -> MqttUrl:
    """An ``mqtt://`` or ``mqtts://`` URL."""
    try:
        return MqttUrl.parse(text)
    except ConfigError as exc:
        raise ArgumentTypeError(str(exc).removeprefix(f"{exc.setting}: ")) from exc


def http_url(text: str) -> str:
    """An ``http://`` or ``https://`` URL with a host."""
    try:
        parts = split_url(text)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ArgumentTypeError(f"not an http:// or https:// URL: {mask_url(text)}")
    return text


LOG_LEVELS = "DEBUG, INFO, WARNING, ERROR or CRITICAL"


def log_level(text: str) -> str:
    """A logging level name, in any case."""
    level = text.strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ArgumentTypeError(f"must be {LOG_LEVELS}, got {text!r}")
    return level
