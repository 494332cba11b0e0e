"""Mode-aware upkeep: the one place in Python that knows the two schema modes differ."""

from __future__ import annotations

import logging
import math
import random
import time
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql

from citypulse._errors import ConfigError
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
_REFRESH_WINDOWS = "SELECT view_name, start FROM citypulse_refresh_windows()"
_LONGEST_HORIZON = "SELECT what, horizon FROM citypulse_retention_horizons() LIMIT 1"


def refresh_rollups(conn: psycopg.Connection[Any]) -> None:
    """Bring every rollup up to date now (tests, backfills, reports).

    On TimescaleDB each rollup is refreshed from the oldest raw chunk that retention keeps
    for at least another day (``citypulse_refresh_windows()``), never over raw data that
    retention dropped: such a refresh would delete the rollup rows computed from it.
    Raw data older than that is left as the rollups already hold it.

    Needs an autocommit connection: TimescaleDB's refresh is a procedure that cannot run
    inside a transaction block.
    """
    if schema_mode(conn) == "timescale":
        for view, start in conn.execute(_REFRESH_WINDOWS).fetchall():
            if start is None:
                log.debug("%s: no raw data within retention; nothing to refresh", view)
                continue
            call = sql.SQL("CALL refresh_continuous_aggregate({}, {}, NULL)").format(
                sql.Literal(view), sql.Literal(start)
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


def raw_retention(conn: psycopg.Connection[Any]) -> timedelta:
    """How long raw readings are kept, as the database has it."""
    value = scalar(conn, "SELECT raw_retention FROM schema_policy")
    assert isinstance(value, timedelta)
    return value


def set_raw_retention(conn: psycopg.Connection[Any], retention: timedelta, *, setting: str) -> bool:
    """Keep raw readings for ``retention``; return whether that changed anything.

    A retention that a compression or rollup-refresh horizon outlasts (TimescaleDB mode:
    at least 91 days with the shipped policies) is refused with a :class:`ConfigError`
    naming ``setting``, the flag or variable the value came from.
    """
    longest = conn.execute(_LONGEST_HORIZON).fetchone()
    if longest is not None and retention < longest[1]:
        what, horizon = longest
        need = math.ceil(horizon / timedelta(days=1))
        raise ConfigError(
            setting,
            f"must be at least {need} days on this database, got {retention.days}: the "
            f"{what} needs {need} days of raw data, and a refresh over raw data that "
            "retention dropped deletes the rollups computed from it",
        )
    if raw_retention(conn) == retention:
        return False
    conn.execute("SELECT citypulse_set_retention(%s)", (retention,))
    return True


def maintain(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Run the periodic upkeep once (partitions, retention, rollups); return what it did."""
    done = scalar(conn, "SELECT citypulse_maintain()")
    return dict(done) if done else {}
