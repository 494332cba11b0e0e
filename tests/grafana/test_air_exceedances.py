"""The exceedances table joins each station's days over the daily limit once; its rows
must be those of the form with a subquery per row (which took seconds for 500 stations)."""

from __future__ import annotations

import re

import pytest

from citypulse.db import connect
from grafana import QueryContext, Variable, expand
from grafana._air import _exceedances_sql
from tests.fix_grafana import SimulatedWeek

pytestmark = pytest.mark.slow

_PER_ROW = """
        SELECT h.device_id, d.name AS station, h.pollutant, max(h.peak) AS peak,
               max(h.max_single) AS max_single_limit,
               count(*) FILTER (WHERE h.peak > h.max_single) AS hours_over_max_single,
               (SELECT count(*) FROM daily x WHERE x.device_id = h.device_id
                  AND x.pollutant = h.pollutant AND x.over) AS days_over_daily_mean,
               'citypulse-air' AS dashboard
        FROM hourly h JOIN devices d ON d.id = h.device_id
        GROUP BY h.device_id, d.name, h.pollutant
        HAVING count(*) FILTER (WHERE h.peak > h.max_single) > 0
            OR (SELECT count(*) FROM daily x WHERE x.device_id = h.device_id
                  AND x.pollutant = h.pollutant AND x.over) > 0
        ORDER BY hours_over_max_single DESC, days_over_daily_mean DESC
"""


def _reference(joined: str) -> str:
    """The panel's query with its final SELECT in the per-row form."""
    ctes = re.split(r"\),\s*days_over AS \(", joined, maxsplit=1)[0]
    return ctes + "\n)\n" + _PER_ROW


def test_exceedances_equal_the_per_row_form(simulated_week: SimulatedWeek) -> None:
    sql = _exceedances_sql("Europe/Moscow")
    with connect(simulated_week.url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM devices WHERE kind = 'ecology'")]
        device = Variable("device", "$__all", multi=True, include_all=True, options=tuple(ids))
        ctx = QueryContext(simulated_week.start, simulated_week.end, {"device": device})
        got = conn.execute(expand(sql, ctx).encode()).fetchall()
        want = conn.execute(expand(_reference(sql), ctx).encode()).fetchall()
    assert sorted(got) == sorted(want)
    assert want, "the simulated week's smog episode exceeds a limit"
