"""The bulk appeals seeder on a small N: every row written, references whole, the
shares and the weekly shape roughly as documented, the schema's indexes back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from appeals import load_routing
from citypulse.db import connect, scalar
from lab._seed_appeals import CONFIRM_SHARE, SOURCE_P, SOURCES, seed_appeals

END = datetime(2026, 12, 1, 12, tzinfo=UTC)
N = 6000
_INDEXES = (
    "SELECT count(*) FROM pg_indexes WHERE tablename IN ('appeals', 'appeal_events', 'incidents')"
)


def test_seeded_appeals_look_like_a_regions_year(db_url: str) -> None:
    routing = load_routing()
    with connect(db_url) as conn:
        indexes = scalar(conn, _INDEXES)
        seeded = seed_appeals(conn, N, end=END, routing=routing, seed=3)
        assert seeded.appeals == N
        assert scalar(conn, "SELECT count(*) FROM appeals") == N
        assert scalar(conn, _INDEXES) == indexes  # dropped for the load, built again
        shares: dict[str, int] = dict(
            conn.execute("SELECT source, count(*) FROM appeals GROUP BY 1").fetchall()
        )
        for source, p in zip(SOURCES, SOURCE_P, strict=True):
            assert shares[source] / N == pytest.approx(p, abs=0.03)
        # each sensor or system appeal has its own incident, of a device or a system
        assert scalar(conn, "SELECT count(*) FROM incidents") == seeded.incidents
        assert seeded.incidents == shares["sensor"] + shares["system"]
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM appeals a JOIN incidents i ON i.id = a.incident_id"
                " WHERE (a.source = 'sensor') = (i.device_id IS NOT NULL)",
            )
            == seeded.incidents
        )
        sectors = {r[0] for r in conn.execute("SELECT DISTINCT sector FROM appeals")}
        assert sectors <= set(routing.sectors)
        assert len(sectors) >= 6
        districts = {r[0] for r in conn.execute("SELECT DISTINCT district FROM appeals")}
        assert districts == set(routing.districts.values())
        agencies = {s.agency for s in routing.services} | {
            r.agency for r in routing.routes.values()
        }
        agencies |= {r.agency for r in routing.event_routes.values()}
        assert {r[0] for r in conn.execute("SELECT DISTINCT agency FROM appeals")} <= agencies
        # a year before END, weekdays busier than Sundays (in Moscow)
        first, last = conn.execute(
            "SELECT min(requested_at), max(requested_at) FROM appeals"
        ).fetchone() or (None, None)
        assert first is not None
        assert last is not None
        assert (END - first).days in (364, 365)
        assert last < END
        per_dow: dict[int, int] = dict(conn.execute(
            "SELECT extract(isodow FROM requested_at AT TIME ZONE 'Europe/Moscow')::int, count(*)"
            " FROM appeals GROUP BY 1"
        ).fetchall())  # fmt: skip
        assert per_dow[7] < 0.8 * per_dow[2]
        # statuses: old ones mostly done, history for each step, open ones only lately
        statuses: dict[str, int] = dict(
            conn.execute("SELECT status, count(*) FROM appeals GROUP BY 1").fetchall()
        )
        assert (statuses["resolved"] + statuses["closed"]) / N > 0.85
        assert statuses["rejected"] / N == pytest.approx(0.02, abs=0.01)
        assert scalar(conn, "SELECT count(*) FROM appeal_events") == seeded.events
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM appeals a WHERE status <> 'new' AND NOT EXISTS (SELECT FROM"
                " appeal_events e WHERE e.appeal_id = a.id AND e.status = a.status)",
            )
            == 0
        )
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM appeals WHERE status IN ('new', 'accepted', 'in_progress')"
                " AND requested_at < %s::timestamptz - interval '30 days'",
                (END,),
            )
            == 0
        )
        # citizens confirming sensors, grouped under the earlier appeal
        assert seeded.links == pytest.approx(shares["citizen"] * CONFIRM_SHARE, abs=2)
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM appeal_links l JOIN appeals c ON c.id = l.appeal_id"
                " JOIN appeals s ON s.id = l.linked_id WHERE l.reason = 'confirms'"
                " AND c.source = 'citizen' AND s.source = 'sensor' AND c.service_code = s.service_code"
                " AND c.district = s.district AND c.confirmed_by_sensors"
                " AND coalesce(c.group_id, s.group_id) = least(c.id, s.id)",
            )
            == seeded.links
        )
        # new appeals continue the sequences
        assert scalar(conn, "SELECT nextval(pg_get_serial_sequence('appeals', 'id'))") == N + 1
