"""A typed PostgreSQL target for grafana-foundation-sdk, which has no SQL query builder.

:class:`PostgresTarget` is what a panel of the ``grafana-postgresql-datasource`` plugin
stores in its ``targets``: raw SQL in code mode, a result format and a reference id.
:func:`tiered` writes one query that reads raw readings, the 1-minute or the 1-hour
rollup depending on the length of the dashboard's time range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common

DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "citypulse-pg"
DATASOURCE = common.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)

Format = Literal["table", "time_series"]

#: Longest range read from raw readings, and from the 1-minute rollups; longer ones use
#: the 1-hour rollups.  A day of 1-minute rows for 400 cameras is ~0.6 M rows.
RAW_MAX = timedelta(hours=3)
MINUTE_MAX = timedelta(hours=36)
SPAN = "($__timeTo()::timestamptz - $__timeFrom()::timestamptz)"
#: How many devices ``$device`` selects (Grafana writes a multi-value variable as a
#: list of quoted values).
SELECTED = "cardinality(ARRAY[$device])"
#: Marks where :func:`tiered` puts each branch's range condition.
GATE = "/*tier*/"


@dataclass(frozen=True, slots=True)
class PostgresTarget(cogvariants.Dataquery):
    """One query of a ``grafana-postgresql-datasource`` panel, in code mode."""

    raw_sql: str
    ref_id: str = "A"
    format: Format = "table"
    hide: bool = False

    def __post_init__(self) -> None:
        if self.format not in ("table", "time_series"):
            raise ValueError(f"format must be table or time_series, got {self.format!r}")
        if not self.raw_sql.strip():
            raise ValueError("raw_sql is empty")

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "datasource": DATASOURCE.to_json(),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }
        if self.hide:
            out["hide"] = True
        return out


class Sql(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of a :class:`PostgresTarget`, used where the SDK expects a query builder."""

    def __init__(self, raw_sql: str, *, ref_id: str = "A", fmt: Format = "table") -> None:
        self._target = PostgresTarget(raw_sql=_dedent(raw_sql), ref_id=ref_id, format=fmt)

    def build(self) -> PostgresTarget:
        return self._target


def series(raw_sql: str, ref_id: str = "A") -> Sql:
    """A ``time_series`` query (a ``time`` column, optional ``metric`` text, numbers)."""
    return Sql(raw_sql, ref_id=ref_id, fmt="time_series")


def table(raw_sql: str, ref_id: str = "A") -> Sql:
    """A ``table`` query."""
    return Sql(raw_sql, ref_id=ref_id, fmt="table")


def bucket_seconds(grain_s: int) -> str:
    """SQL: seconds in a ``$__interval`` bucket over data of ``grain_s`` resolution."""
    return f"greatest($__interval_ms / 1000.0, {grain_s})"


def _interval(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    if seconds % 3600 == 0:
        return f"interval '{seconds // 3600} hours'"
    return f"interval '{seconds} seconds'"


def tiered(
    *,
    raw: str | None,
    minute: str | None,
    hour: str,
    raw_max: timedelta = RAW_MAX,
    minute_max: timedelta = MINUTE_MAX,
    raw_devices: int | None = None,
) -> str:
    """One query whose branches read the source fitting the time range.

    Each branch is a full ``SELECT`` holding :data:`GATE` inside its ``WHERE`` clause;
    the branches become a ``UNION ALL`` and each gate a condition on the range alone, which
    PostgreSQL evaluates once (a one-time filter), so the other branches cost nothing.
    ``None`` skips a tier (the next longer one takes its ranges).  Panels with a series
    per device lower ``raw_max``/``minute_max``: a day of 1-minute points for every camera
    is more than a panel can draw and costs seconds to read.  With ``raw_devices``, raw
    readings serve only a selection of at most that many devices (``$device``); a larger
    one reads the 1-minute rollup however short the range.
    """
    branches: list[tuple[str, timedelta | None, timedelta | None]] = []
    low: timedelta | None = None
    for text, high in ((raw, raw_max), (minute, minute_max), (hour, None)):
        if text is None:
            continue
        branches.append((text, low, high))
        low = high
    if len(branches) == 1:
        return branches[0][0].replace(GATE, "")
    few = raw_devices is not None and raw is not None  # branch 0 is raw, 1 the next tier
    parts = []
    for k, (text, lo, hi) in enumerate(branches):
        if GATE not in text:
            raise ValueError(f"a tiered branch needs {GATE} in its WHERE clause: {text[:60]}")
        conds = []
        if lo is not None:
            above = f"{SPAN} > {_interval(lo)}"
            if few and k == 1:  # the tier after raw also takes large selections
                above = f"({above} OR {SELECTED} > {raw_devices})"
            conds.append(above)
        if hi is not None:
            conds.append(f"{SPAN} <= {_interval(hi)}")
            if few and k == 0:
                conds.append(f"{SELECTED} <= {raw_devices}")
        parts.append("(" + _dedent(text).replace(GATE, "AND " + " AND ".join(conds)) + ")")
    return "\nUNION ALL\n".join(parts) + "\nORDER BY 1"


def _dedent(text: str) -> str:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines).strip()
