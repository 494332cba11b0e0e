"""The signal-phase timeline beyond the raw tier reads only the buckets that can change
state; its rows must be those of the plain lag over every bucket."""

from __future__ import annotations

from datetime import timedelta

import pytest

from citypulse.db import connect
from grafana import QueryContext, Variable, expand
from grafana._intersections import PHASE_STATE, _phase_state_sql
from tests.fix_grafana import SimulatedWeek

pytestmark = pytest.mark.slow

_EVERY_BUCKET = f"""
SELECT time, metric, state FROM (
    SELECT bucket AS time, device_id AS metric, state,
           lag(state) OVER (PARTITION BY device_id ORDER BY bucket) AS previous
    FROM (
        SELECT bucket, device_id, {PHASE_STATE} AS state
        FROM {{source}}
        WHERE $__timeFilter(bucket) AND device_id IN ($device)
    ) s
) c
WHERE previous IS DISTINCT FROM state
ORDER BY 1, 2
"""


@pytest.mark.parametrize(
    ("span", "source"),
    [(timedelta(hours=6), "traffic_light_1m"), (timedelta(days=7), "traffic_light_1h")],
)
def test_phase_states_equal_the_lag_over_every_bucket(
    simulated_week: SimulatedWeek, span: timedelta, source: str
) -> None:
    with connect(simulated_week.url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM devices WHERE kind = 'traffic_light'")]
        # a week ending at a stuck phase, so that states other than cycling are in range
        end = conn.execute(
            f"SELECT max(bucket) + interval '30 minutes' FROM {source} "
            "WHERE max_phase_elapsed > 120 OR flashing_readings > 0 OR dark_readings > 0"
        ).fetchone()
        assert end is not None
        assert end[0] is not None, "the simulated week has no faulty phase"
        device = Variable("device", "$__all", multi=True, include_all=True, options=tuple(ids))
        ctx = QueryContext(end[0] - span, end[0], {"device": device})
        got = conn.execute(expand(_phase_state_sql(), ctx).encode()).fetchall()
        want = conn.execute(
            expand(_EVERY_BUCKET.replace("{source}", source), ctx).encode()
        ).fetchall()
    assert sorted(got) == sorted(want)
    assert {state for _, _, state in want} - {"cycling"}
    assert len(want) > len(ids)
