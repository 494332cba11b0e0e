"""The queue's page of open appeals is read in order from an index (sql/0018), not
sorted: at 50,000 appeals the sort was most of the page's time."""

from __future__ import annotations

from psycopg import sql

from citypulse.db import connect
from console._queue import _ROWS, RUNNING, Filters, order_clause, where_clause


def _plan(db_url: str, f: Filters) -> str:
    where, params = where_clause(f, None)
    order, order_params = order_clause(f)
    query = sql.SQL("EXPLAIN " + _ROWS).format(where=where, order=order)
    with connect(db_url) as conn:
        # a test's table is tiny: make the planner show what it can do, not what is cheap
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        rows = conn.execute(query, [list(RUNNING), *params, *order_params, 50, 0]).fetchall()
    return "\n".join(r[0] for r in rows)


def test_open_appeals_are_read_in_the_queues_order(db_url: str) -> None:
    for f in (Filters(), Filters(status="accepted"), Filters(sector="Экология", overdue=True)):
        plan = _plan(db_url, f)
        assert "appeals_queue_open" in plan, plan
        assert "Sort" not in plan, plan


def test_all_appeals_still_come_open_first() -> None:
    order, params = order_clause(Filters(status="all"))
    assert "status = ANY" in order.as_string(None)
    assert params
