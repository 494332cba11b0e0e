"""Grafana's expansion of a PostgreSQL panel query, for tests and the benchmark.

Grafana expands a query in three steps, reproduced here in order:

1. the browser replaces template variables (``$device``, ``${device:sqlstring}``,
   ``[[device]]``) and the scoped ``$__interval``/``$__interval_ms``; a multi-value or
   include-All variable becomes a comma-separated list of quoted literals, and "All"
   without a custom all value is the list of every option;
2. the server's SQL engine replaces ``$__interval_ms``, ``$__interval``,
   ``$__unixEpochFrom()`` and ``$__unixEpochTo()``;
3. the PostgreSQL macro engine expands ``$__timeFilter(col)``, ``$__timeFrom()``,
   ``$__timeTo()``, ``$__timeGroup(col, interval)`` (``time_bucket`` when the data source
   has the TimescaleDB switch on), ``$__timeGroupAlias``, ``$__unixEpochFilter(col)``, ...

The interval is what Grafana's ``calculateInterval`` gives for the range and the panel's
maximum data points (its width in pixels), rounded to Grafana's "nice" steps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from grafana._errors import MacroError

ALL = "$__all"


@dataclass(frozen=True, slots=True)
class Variable:
    """A dashboard variable's current value, as the browser holds it."""

    name: str
    value: str | tuple[str, ...]
    multi: bool = False
    include_all: bool = False
    options: tuple[str, ...] = ()  # every value, for "All"
    all_value: str | None = None

    def values(self) -> tuple[str, ...]:
        if self.value == ALL or self.value == (ALL,):
            return self.options
        return (self.value,) if isinstance(self.value, str) else self.value


@dataclass(frozen=True, slots=True)
class QueryContext:
    """Everything a query's expansion depends on."""

    start: datetime
    end: datetime
    variables: Mapping[str, Variable] = field(default_factory=dict)
    max_data_points: int = 1000
    min_interval: timedelta | None = None
    timescaledb: bool = False

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise MacroError("the time range needs a UTC offset")
        if self.end <= self.start:
            raise MacroError("the time range is empty")

    @property
    def interval_ms(self) -> int:
        span_ms = (self.end - self.start).total_seconds() * 1000.0
        ms = round_interval(span_ms / max(1, self.max_data_points))
        if self.min_interval is not None:
            ms = max(ms, round(self.min_interval.total_seconds() * 1000))
        return ms


_ROUNDING = (  # Grafana's rangeutil.roundInterval: (below, result) in ms
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
    (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000),
    (1050000, 900000), (1500000, 1200000), (2700000, 1800000), (5400000, 3600000),
    (9000000, 7200000), (16200000, 10800000), (32400000, 21600000), (86400000, 43200000),
    (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
)  # fmt: skip


def round_interval(ms: float) -> int:
    """Grafana's ``roundInterval``: a raw interval in ms to the nearest "nice" step."""
    for below, result in _ROUNDING:
        if ms < below:
            return result
    return 31536000000


def seconds_to_hms(seconds: float) -> str:
    """Grafana's ``secondsToHms``: how the browser writes ``$__interval``."""
    parts = (
        ("y", seconds / 31536000),
        ("d", (seconds % 31536000) / 86400),
        ("h", (seconds % 31536000 % 86400) / 3600),
        ("m", (seconds % 31536000 % 86400 % 3600) / 60),
        ("s", seconds % 31536000 % 86400 % 3600 % 60),
    )
    for unit, amount in parts:
        if math.floor(amount):
            return f"{math.floor(amount)}{unit}"
    ms = math.floor(seconds * 1000)
    return f"{ms}ms" if ms else "less than a millisecond"


def parse_interval(text: str) -> timedelta:
    """Grafana's ``gtime.ParseInterval`` for the forms it accepts (``90s``, ``5m``, ``1d``)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text.strip())
    if not m:
        raise MacroError(f"invalid interval {text!r}")
    n = float(m.group(1))
    seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return timedelta(seconds=n * seconds[m.group(2)])


def _rfc3339(t: datetime) -> str:
    """Go's ``time.RFC3339Nano`` in UTC, as the macro engine writes times."""
    t = t.astimezone(UTC)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += ("." + f"{t.microsecond:06d}").rstrip("0")
    return text + "Z"


def _go_float(x: float) -> str:
    """Go's ``%v`` of a float64 (60 -> ``60``, 0.5 -> ``0.5``)."""
    return str(int(x)) if x == int(x) else repr(x)


# --- step 1: template variables --------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format(var: Variable, fmt: str | None) -> str:
    if var.value in (ALL, (ALL,)) and var.all_value is not None and fmt not in ("text",):
        return var.all_value
    values = var.values()
    if fmt is None:  # the SQL data sources' own interpolateVariable
        if isinstance(var.value, str) and var.value != ALL:
            if var.multi or var.include_all:
                return _quote_literal(var.value)
            return var.value.replace("'", "''")
        return ",".join(_quote_literal(v) for v in values)
    if fmt == "sqlstring":
        return ",".join(_quote_literal(v) for v in values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt in ("csv", "raw"):
        return ",".join(values)
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "text":
        return "All" if var.value in (ALL, (ALL,)) else " + ".join(values)
    raise MacroError(f"unsupported variable format {fmt!r} for ${var.name}")


def replace_variables(sql: str, ctx: QueryContext) -> str:
    """Step 1: what the browser sends (template variables and scoped intervals)."""
    interval_ms = ctx.interval_ms
    scoped = {
        "__interval": seconds_to_hms(interval_ms / 1000.0),
        "__interval_ms": str(interval_ms),
        "__from": str(int(ctx.start.timestamp() * 1000)),
        "__to": str(int(ctx.end.timestamp() * 1000)),
    }

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if name in scoped:
            return scoped[name]
        var = ctx.variables.get(name)
        if var is None:
            return m.group(0)  # not a variable: a macro or plain text, left for later steps
        return _format(var, fmt)

    return _VARIABLE.sub(sub, sql)


# --- steps 2 and 3: the server ---------------------------------------------------------

_MACRO = re.compile(r"\$(__[_a-zA-Z0-9]+)\(([^)]*)\)")


def _go_interval(ms: int) -> str:
    """Go's ``gtime.FormatInterval``."""
    for unit, size in (("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    if ms >= 1000:
        return f"{ms // 1000}s"
    return f"{ms}ms" if ms >= 1 else "1ms"


def _args(text: str) -> list[str]:
    return [a.strip() for a in text.split(",")] if text.strip() else []


def _macro(name: str, args: Sequence[str], ctx: QueryContext) -> str:
    start, end = ctx.start, ctx.end

    def need(n: int) -> None:
        if len(args) < n:
            raise MacroError(f"macro ${name} needs {n} argument(s), got {len(args)}")

    if name == "__time":
        need(1)
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        need(1)
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        need(1)
        return f"{args[0]} BETWEEN '{_rfc3339(start)}' AND '{_rfc3339(end)}'"
    if name == "__timeFrom":
        return f"'{_rfc3339(start)}'"
    if name == "__timeTo":
        return f"'{_rfc3339(end)}'"
    if name in ("__timeGroup", "__timeGroupAlias"):
        need(2)
        seconds = parse_interval(args[1].strip("'\"")).total_seconds()
        if ctx.timescaledb:
            group = f"time_bucket('{seconds:.0f}s',{args[0]})"
        else:
            s = _go_float(seconds)
            group = f"floor(extract(epoch from {args[0]})/{s})*{s}"
        return group + (' AS "time"' if name == "__timeGroupAlias" else "")
    if name == "__unixEpochFilter":
        need(1)
        a, f, t = args[0], int(start.timestamp()), int(end.timestamp())
        return f"{a} >= {f} AND {a} <= {t}"
    if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
        need(2)
        s = _go_float(parse_interval(args[1].strip("'\"")).total_seconds())
        group = f"floor(({args[0]})/{s})*{s}"
        return group + (' AS "time"' if name == "__unixEpochGroupAlias" else "")
    raise MacroError(f"unknown macro ${name}")


def expand(sql: str, ctx: QueryContext) -> str:
    """The SQL PostgreSQL receives for ``sql`` in ``ctx``: all three steps."""
    text = replace_variables(sql, ctx)
    interval_ms = ctx.interval_ms
    text = text.replace("$__interval_ms", str(interval_ms))
    text = text.replace("$__interval", _go_interval(interval_ms))
    text = text.replace("$__unixEpochFrom()", str(int(ctx.start.timestamp())))
    text = text.replace("$__unixEpochTo()", str(int(ctx.end.timestamp())))
    text = _MACRO.sub(lambda m: _macro(m.group(1), _args(m.group(2)), ctx), text)
    if "$__" in text:
        leftover = re.search(r"\$__\w+", text)
        raise MacroError(f"unexpanded macro {leftover.group(0) if leftover else '$__'}")
    return text
