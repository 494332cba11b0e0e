"""Every panel's SQL, expanded as Grafana expands it, against a simulated week."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from citypulse.db import connect
from grafana import DASHBOARDS_DIR, QueryContext, Variable, expand
from grafana._devices import TOP_DEVICES
from tests.fix_grafana import SimulatedWeek

pytestmark = pytest.mark.slow

DASHBOARDS = {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}
RANGES = {"2h": timedelta(hours=2), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    type: str
    ref_id: str
    format: str
    sql: str
    max_data_points: int
    min_interval: timedelta | None

    @property
    def name(self) -> str:
        return f"{self.dashboard}/{self.panel}/{self.ref_id}"


def _interval(text: str | None) -> timedelta | None:
    if not text:
        return None
    from grafana._macros import parse_interval

    return parse_interval(text)


def panel_queries() -> Iterator[PanelQuery]:
    for name, model in DASHBOARDS.items():
        for panel in model["panels"]:
            width_px = round(panel["gridPos"]["w"] * 1800 / 24)
            for target in panel["targets"]:
                yield PanelQuery(
                    name,
                    panel["title"],
                    panel["type"],
                    target["refId"],
                    target["format"],
                    target["rawSql"],
                    width_px,
                    _interval(panel.get("interval")),
                )
        for ann in model.get("annotations", {}).get("list", []):
            t = ann["target"]
            yield PanelQuery(
                name, ann["name"], "annotation", t["refId"], "table", t["rawSql"], 1800, None
            )


QUERIES = list(panel_queries())


def _options(conn: psycopg.Connection[Any], sql: str) -> tuple[str, ...]:
    cur = conn.execute(sql)
    names = [c.name for c in cur.description or ()]
    col = names.index("__value") if "__value" in names else 0
    return tuple(str(row[col]) for row in cur.fetchall())


def _variables(
    conn: psycopg.Connection[Any], model: dict[str, Any], ctx: QueryContext
) -> dict[str, Variable]:
    """Each variable at its default (All), its options read as Grafana reads them."""
    out: dict[str, Variable] = {}
    for v in model["templating"]["list"]:
        partial = QueryContext(ctx.start, ctx.end, out)
        options = _options(conn, expand(v["query"], partial))
        out[v["name"]] = Variable(
            v["name"],
            v["current"]["value"],
            multi=v["multi"],
            include_all=v["includeAll"],
            options=options,
        )
    return out


def _is_time(value: object) -> bool:
    return isinstance(value, datetime | int | float | Decimal)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _run(
    week: SimulatedWeek, q: PanelQuery, span: timedelta, *, timescaledb: bool = False
) -> tuple[list[str], list[tuple[Any, ...]]]:
    end = week.end
    with connect(week.url) as conn:
        base = QueryContext(end - span, end, max_data_points=q.max_data_points)
        variables = _variables(conn, DASHBOARDS[q.dashboard], base)
        ctx = QueryContext(
            end - span,
            end,
            variables,
            max_data_points=q.max_data_points,
            min_interval=q.min_interval,
            timescaledb=timescaledb,
        )
        cur = conn.execute(expand(q.sql, ctx).encode())
        names = [c.name for c in cur.description or ()]
        return names, cur.fetchall()


def _check_shape(q: PanelQuery, names: list[str], rows: list[tuple[Any, ...]]) -> None:
    if q.format == "time_series" or q.type in ("state-timeline", "annotation"):
        assert "time" in names, f"{q.name}: no time column in {names}"
        t = names.index("time")
        times = [r[t] for r in rows]
        assert all(_is_time(x) for x in times), f"{q.name}: time column not a time"
        if q.type != "annotation":
            assert times == sorted(times), f"{q.name}: not sorted by time (Grafana needs it)"
    if q.format == "time_series":
        others = [i for i, n in enumerate(names) if n not in ("time", "metric")]
        assert others, f"{q.name}: no value column"
        for r in rows[:200]:
            assert all(r[i] is None or _is_number(r[i]) for i in others), f"{q.name}: {r}"
        if "metric" in names:
            assert all(isinstance(r[names.index("metric")], str) for r in rows)
    if q.type == "state-timeline":
        assert {"metric", "state"} <= set(names), f"{q.name}: {names}"
    if q.type == "geomap":
        assert {"lat", "lon"} <= set(names), f"{q.name}: {names}"
        for r in rows:
            assert _is_number(r[names.index("lat")])
            assert _is_number(r[names.index("lon")])
    if q.type == "stat":
        assert len(rows) == 1, f"{q.name}: {rows}"
        assert len(names) == 1, f"{q.name}: {names}"
        assert _is_number(rows[0][0]), f"{q.name}: {rows}"
    if q.type == "annotation":
        assert {"time", "timeend", "text", "tags"} <= set(names)


@pytest.mark.parametrize("span", list(RANGES), ids=list(RANGES))
@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_panel_query_runs_and_fits_its_panel(
    simulated_week: SimulatedWeek, query: PanelQuery, span: str
) -> None:
    names, rows = _run(simulated_week, query, RANGES[span])
    _check_shape(query, names, rows)
    if span == "7d":
        assert rows, f"{query.name}: no rows over the simulated week"


@pytest.mark.timescale
def test_panel_queries_run_on_timescaledb(simulated_week_timescale: SimulatedWeek) -> None:
    """The data source's TimescaleDB switch on: time_bucket() over continuous aggregates."""
    failures = []
    for q in QUERIES:
        for label, span in RANGES.items():
            try:
                names, rows = _run(simulated_week_timescale, q, span, timescaledb=True)
                _check_shape(q, names, rows)
                assert rows or label != "7d", f"{q.name}: no rows over the simulated week"
            except (AssertionError, psycopg.Error) as exc:
                failures.append(f"{q.name} {label}: {str(exc).splitlines()[0]}")
    assert not failures, "\n".join(failures)


def test_every_dashboard_has_queries() -> None:
    assert set(DASHBOARDS) == {
        "overview",
        "intersections",
        "traffic",
        "parking",
        "air",
        "appeals",
        "ingest",
        "tension",
    }
    assert len(QUERIES) > 50


def _explain(conn: psycopg.Connection[Any], sql: str) -> str:
    rows = conn.execute(b"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql.encode())
    return "\n".join(str(r[0]) for r in rows)


def _plan(week: SimulatedWeek, sql: str, span: timedelta) -> str:
    with connect(week.url) as conn:
        variables = _variables(conn, DASHBOARDS["traffic"], QueryContext(week.end - span, week.end))
        ctx = QueryContext(week.end - span, week.end, variables, min_interval=timedelta(minutes=1))
        return _explain(conn, expand(sql, ctx))


def _executed(plan: str, kind: str) -> set[str]:
    """The tables of ``kind`` (raw, minute and hour) that ``plan`` read."""
    return {
        table
        for table in (f"{kind}_readings", f"{kind}_1m", f"{kind}_1h")
        for block in plan.split("->")
        if table in block and "never executed" not in block
    }


@pytest.mark.parametrize(
    ("span", "read"),
    [
        # its buckets are a minute at least, whose sums the minute rollup holds: raw
        # readings would give the same, slower
        (timedelta(minutes=30), "camera_1m"),
        (timedelta(hours=2), "camera_1m"),
        (timedelta(hours=24), "camera_1h"),
    ],
    ids=["30m", "2h", "24h"],
)
def test_long_ranges_read_the_hourly_rollup_and_short_ones_the_minute_one(
    simulated_week: SimulatedWeek, span: timedelta, read: str
) -> None:
    panel = next(
        p for p in DASHBOARDS["traffic"]["panels"] if p["title"].startswith("Traffic intensity vs")
    )
    plan = _plan(simulated_week, panel["targets"][0]["rawSql"], span)
    assert _executed(plan, "camera") == {read}, plan


@pytest.mark.parametrize(
    ("selected", "read"),
    [
        (1, "traffic_light_readings"),
        (TOP_DEVICES, "traffic_light_readings"),
        (TOP_DEVICES + 1, "traffic_light_1m"),
    ],
    ids=["one", "top", "more"],
)
def test_signal_phases_are_read_raw_only_for_a_few_controllers(
    simulated_week: SimulatedWeek, selected: int, read: str
) -> None:
    # every phase of a whole city's controllers is millions of rows an hour: a large
    # selection reads the minute states even on a range raw readings would serve
    panel = next(
        p
        for p in DASHBOARDS["intersections"]["panels"]
        if p["title"] == "Signal phases per controller"
    )
    end, span = simulated_week.end, timedelta(minutes=30)
    with connect(simulated_week.url) as conn:
        model = DASHBOARDS["intersections"]
        variables = dict(_variables(conn, model, QueryContext(end - span, end)))
        ids = variables["device"].options
        heard = conn.execute(
            "SELECT DISTINCT device_id FROM traffic_light_readings "
            "WHERE time > %s AND time <= %s ORDER BY 1",
            (end - span, end),
        ).fetchall()
        assert heard, "the simulated week has no phase in its last half hour"
        first = tuple(r[0] for r in heard)
        chosen = (first + tuple(i for i in ids if i not in first))[:selected]
        chosen += tuple(f"tl-none-{k}" for k in range(selected - len(chosen)))
        variables["device"] = Variable("device", chosen, multi=True, include_all=True, options=ids)
        ctx = QueryContext(end - span, end, variables, min_interval=timedelta(minutes=1))
        sql = expand(panel["targets"][0]["rawSql"], ctx)
        plan = _explain(conn, sql)
        rows = conn.execute(sql.encode()).fetchall()
    assert _executed(plan, "traffic_light") == {read}, plan
    assert rows, "no phase or state in the range"
    assert {r[1] for r in rows} <= set(chosen)


def test_the_city_intensity_can_be_summed_from_the_minute_index_alone(
    simulated_week: SimulatedWeek,
) -> None:
    # 0023: 6 hours of a large city's cameras are 1.4 M minute rows; fetched from the
    # table one by one they took 0.35-0.5 s, from the covering index 0.17 s.  A week of a
    # small city is planned otherwise, so every other way is closed here: what is left is
    # the index-only scan, possible only while the index holds every column the panel reads
    panel = next(
        p for p in DASHBOARDS["traffic"]["panels"] if p["title"].startswith("Traffic intensity vs")
    )
    end, span = simulated_week.end, timedelta(hours=6)
    with connect(simulated_week.url, autocommit=True) as conn:
        for way in ("seqscan", "bitmapscan", "indexscan"):
            conn.execute(f"SET enable_{way} = off")
        variables = _variables(conn, DASHBOARDS["traffic"], QueryContext(end - span, end))
        ctx = QueryContext(end - span, end, variables, min_interval=timedelta(minutes=1))
        sql = expand(panel["targets"][0]["rawSql"], ctx)
        plan = _explain(conn, sql)
    scans = [line for line in plan.splitlines() if "camera_1m" in line and "Scan" in line]
    assert scans, plan
    for scan in scans:
        assert "Index Only Scan" in scan, plan
        assert "using camera_1m_bucket " in scan, plan
