"""Mode-aware upkeep: the one place in Python that knows the two schema modes differ."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import psycopg
from psycopg import sql

from citypulse.db._connect import scalar

log = logging.getLogger(__name__)

ROLLUP_VIEWS = tuple(
    f"{kind}_{width}"
    for width in ("1m", "1h")
    for kind in ("traffic_light", "camera", "parking", "ecology")
)


def schema_mode(conn: psycopg.Connection[Any]) -> str:
    """``timescale`` or ``plain``, as the applied migrations defined it."""
    return str(scalar(conn, "SELECT citypulse_schema_mode()"))


_REFRESH_ATTEMPTS = 12


def refresh_rollups(conn: psycopg.Connection[Any]) -> None:
    """Bring every rollup up to date now (tests, backfills, reports).

    Needs an autocommit connection: TimescaleDB's refresh is a procedure that cannot run
    inside a transaction block.
    """
    if schema_mode(conn) == "timescale":
        for view in ROLLUP_VIEWS:
            call = sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(
                sql.Literal(view)
            )
            # TimescaleDB >= 2.2x refuses at once, instead of waiting, when a refresh
            # policy's background job is refreshing an overlapping window: wait it out.
            for attempt in range(_REFRESH_ATTEMPTS):
                try:
                    conn.execute(call)
                    break
                except psycopg.errors.LockNotAvailable:
                    if attempt == _REFRESH_ATTEMPTS - 1:
                        raise
                    log.info("%s: a policy job is refreshing it; retrying", view)
                    time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    else:
        while scalar(conn, "SELECT citypulse_refresh_rollups()"):
            pass


def maintain(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Run the periodic upkeep once (partitions, retention, rollups); return what it did."""
    done = scalar(conn, "SELECT citypulse_maintain()")
    return dict(done) if done else {}
