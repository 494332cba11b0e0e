"""The parking panels' latest reading per lot, found by the primary key per lot, is the
one DISTINCT ON over the last hour's readings finds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from citypulse.db import connect
from grafana import QueryContext, Variable, build_dashboards, expand
from tests.fix_grafana import SimulatedWeek

pytestmark = pytest.mark.slow

_DISTINCT_ON = """
SELECT l.device_id, l.time, l.occupied_spot_number
FROM (
    SELECT DISTINCT ON (device_id) *
    FROM parking_readings
    WHERE time > $__timeTo()::timestamptz - interval '1 hour'
      AND time <= $__timeTo()::timestamptz AND device_id IN ($device)
    ORDER BY device_id, time DESC
) l
ORDER BY 1
"""


def test_lots_now_is_each_lots_latest_reading(simulated_week: SimulatedWeek) -> None:
    model = build_dashboards()["parking"]
    panel = next(p for p in model["panels"] if p["title"] == "Lots now")
    with connect(simulated_week.url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM devices WHERE kind = 'parking'")]
        device = Variable("device", "$__all", multi=True, include_all=True, options=tuple(ids))
        week = simulated_week.end - simulated_week.start
        for end in (simulated_week.end, simulated_week.start + week / 2):
            at = QueryContext(end - timedelta(days=1), end, {"device": device})
            cur = conn.execute(expand(panel["targets"][0]["rawSql"], at).encode())
            names = [c.name for c in cur.description or ()]
            got = sorted(
                (
                    r[names.index("device_id")],
                    r[names.index("reported")],
                    r[names.index("occupied")],
                )
                for r in cur.fetchall()
            )
            want = conn.execute(expand(_DISTINCT_ON, at).encode()).fetchall()
            assert got == want
            assert want  # (a lot silent for the last two hours has no row)
