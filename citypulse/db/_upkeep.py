"""Mode-aware upkeep: the one place in Python that knows the two schema modes differ."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from citypulse.db._connect import scalar

ROLLUP_VIEWS = tuple(
    f"{kind}_{width}"
    for width in ("1m", "1h")
    for kind in ("traffic_light", "camera", "parking", "ecology")
)


def schema_mode(conn: psycopg.Connection[Any]) -> str:
    """``timescale`` or ``plain``, as the applied migrations defined it."""
    return str(scalar(conn, "SELECT citypulse_schema_mode()"))


def refresh_rollups(conn: psycopg.Connection[Any]) -> None:
    """Bring every rollup up to date now (tests, backfills, reports).

    Needs an autocommit connection: TimescaleDB's refresh is a procedure that cannot run
    inside a transaction block.
    """
    if schema_mode(conn) == "timescale":
        for view in ROLLUP_VIEWS:
            conn.execute(
                sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(
                    sql.Literal(view)
                )
            )
    else:
        while scalar(conn, "SELECT citypulse_refresh_rollups()"):
            pass


def maintain(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Run the periodic upkeep once (partitions, retention, rollups); return what it did."""
    row = conn.execute("SELECT citypulse_maintain()").fetchone()
    return dict(row[0]) if row and row[0] else {}
