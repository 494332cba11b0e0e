"""The appeals dashboard shows appeals from other systems' events, which have no device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from appeals import EventRecorder, SystemEvent, load_routing
from citypulse.db import connect, upsert_devices
from grafana import QueryContext, expand
from simulator import preset_city
from tests.grafana.test_panels_sql import DASHBOARDS, _variables


def test_the_queue_and_its_counts_include_system_appeals(db_url: str) -> None:
    now = datetime.now(UTC)
    event = SystemEvent(
        source="safe_city",
        event_id="bg-1",
        type="crowd",
        occurred_at=now - timedelta(minutes=3),
        address="пл. Старый Торг",  # no point: no district (the device filter is the case)
    )
    model = DASHBOARDS["appeals"]
    queue = next(
        t["rawSql"]
        for p in model["panels"]
        for t in p["targets"]
        if "LEFT JOIN incidents i ON i.id = a.incident_id" in t["rawSql"]
    )
    overdue_or_open = [
        t["rawSql"]
        for p in model["panels"]
        for t in p["targets"]
        if t["rawSql"].startswith("SELECT count(*) AS open FROM appeals")
    ]
    with connect(db_url) as conn:
        upsert_devices(conn, preset_city().devices())
        outcome = EventRecorder(routing=load_routing()).record(
            conn, event, digest=b"x", key_name="k", payload={}
        )
        conn.commit()
        ctx = QueryContext(now - timedelta(hours=24), now + timedelta(minutes=1))
        ctx = QueryContext(ctx.start, ctx.end, _variables(conn, model, ctx))
        rows = conn.execute(expand(queue, ctx).encode()).fetchall()
        assert outcome.appeal_id in [r[0] for r in rows]
        counts = [conn.execute(expand(q, ctx).encode()).fetchone() for q in overdue_or_open]
        assert counts == [(0,), (0,)]  # "sensor" and "citizen" count their own source only
