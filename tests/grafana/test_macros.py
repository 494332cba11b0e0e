"""The macro expander against Grafana's documented expansions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from grafana import MacroError, QueryContext, Variable, expand
from grafana._macros import round_interval, seconds_to_hms

# Grafana's documentation example range.
START = datetime(2017, 4, 21, 5, 1, 17, tzinfo=UTC)
END = datetime(2017, 4, 21, 5, 6, 17, tzinfo=UTC)
CTX = QueryContext(START, END)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("$__time(dateColumn)", 'dateColumn AS "time"'),
        ("$__timeEpoch(dateColumn)", 'extract(epoch from dateColumn) as "time"'),
        (
            "$__timeFilter(dateColumn)",
            "dateColumn BETWEEN '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17Z'",
        ),
        ("$__timeFrom()", "'2017-04-21T05:01:17Z'"),
        ("$__timeTo()", "'2017-04-21T05:06:17Z'"),
        ("$__timeGroup(dateColumn,'5m')", "floor(extract(epoch from dateColumn)/300)*300"),
        ("$__timeGroup(dateColumn, 5m)", "floor(extract(epoch from dateColumn)/300)*300"),
        (
            "$__timeGroupAlias(dateColumn,'5m')",
            'floor(extract(epoch from dateColumn)/300)*300 AS "time"',
        ),
        ("$__unixEpochFilter(dateColumn)", "dateColumn >= 1492750877 AND dateColumn <= 1492751177"),
        ("$__unixEpochGroup(dateColumn,'5m')", "floor((dateColumn)/300)*300"),
        ("$__unixEpochFrom() $__unixEpochTo()", "1492750877 1492751177"),
    ],
)
def test_macros_expand_as_grafana_documents(sql: str, expected: str) -> None:
    assert expand(sql, CTX) == expected


def test_timescaledb_switch_turns_time_groups_into_time_bucket() -> None:
    ctx = QueryContext(START, END, timescaledb=True)
    assert expand("$__timeGroupAlias(bucket, 1h)", ctx) == "time_bucket('3600s',bucket) AS \"time\""


@pytest.mark.parametrize(
    ("span", "points", "interval", "ms"),
    [
        (timedelta(hours=24), 1000, "1m", 60000),
        (timedelta(days=7), 1000, "10m", 600000),
        (timedelta(days=30), 1000, "30m", 1800000),
        (timedelta(hours=2), 1000, "5s", 5000),
    ],
)
def test_interval_follows_grafanas_rounding(
    span: timedelta, points: int, interval: str, ms: int
) -> None:
    ctx = QueryContext(END - span, END, max_data_points=points)
    assert ctx.interval_ms == ms
    assert expand("$__interval $__interval_ms", ctx) == f"{interval} {ms}"


def test_min_interval_is_a_floor() -> None:
    ctx = QueryContext(END - timedelta(hours=1), END, min_interval=timedelta(minutes=1))
    assert expand("$__timeGroupAlias(t, $__interval)", ctx) == (
        'floor(extract(epoch from t)/60)*60 AS "time"'
    )


def test_rounding_and_hms_helpers() -> None:
    assert round_interval(86_400) == 60_000
    assert seconds_to_hms(90) == "1m"
    assert seconds_to_hms(7200) == "2h"
    assert seconds_to_hms(0.5) == "500ms"


def _ctx(**variables: Variable) -> QueryContext:
    return QueryContext(START, END, variables)


def test_multi_value_variable_is_a_list_of_quoted_literals() -> None:
    ctx = _ctx(device=Variable("device", ("cam-1", "O'Brien"), multi=True, include_all=True))
    assert expand("id IN ($device)", ctx) == "id IN ('cam-1','O''Brien')"


def test_all_is_every_option_unless_a_custom_all_value_is_set() -> None:
    every = Variable("d", "$__all", multi=True, include_all=True, options=("a", "b"))
    assert expand("x IN ($d)", _ctx(d=every)) == "x IN ('a','b')"
    custom = Variable("d", "$__all", multi=True, include_all=True, options=("a",), all_value="%")
    assert expand("x LIKE '$d'", _ctx(d=custom)) == "x LIKE '%'"


def test_single_value_variable_without_multi_is_escaped_but_not_quoted() -> None:
    ctx = _ctx(name=Variable("name", "it's"))
    assert expand("'$name'", ctx) == "'it''s'"
    single_multi = _ctx(name=Variable("name", "a", multi=True))
    assert expand("$name", single_multi) == "'a'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${v:sqlstring}", "'a','it''s'"),
        ("${v:csv}", "a,it's"),
        ("${v:raw}", "a,it's"),
        ("${v:singlequote}", "'a','it\\'s'"),
        ("${v:doublequote}", '"a","it\'s"'),
        ("${v:pipe}", "a|it's"),
        ("${v}", "'a','it''s'"),
        ("[[v]]", "'a','it''s'"),
        ("[[v:csv]]", "a,it's"),
    ],
)
def test_variable_formats(text: str, expected: str) -> None:
    ctx = _ctx(v=Variable("v", ("a", "it's"), multi=True))
    assert expand(text, ctx) == expected


def test_global_range_variables_are_epoch_milliseconds() -> None:
    assert expand("$__from $__to", CTX) == "1492750877000 1492751177000"


@pytest.mark.parametrize(
    "sql", ["$__timeFilter()", "$__timeGroup(x)", "$__nosuchmacro(x)", "${v:nosuchformat}"]
)
def test_bad_macros_are_refused(sql: str) -> None:
    with pytest.raises(MacroError):
        expand(sql, _ctx(v=Variable("v", "a")))


def test_range_must_be_aware_and_non_empty() -> None:
    with pytest.raises(MacroError):
        QueryContext(START.replace(tzinfo=None), END)
    with pytest.raises(MacroError):
        QueryContext(END, START)
