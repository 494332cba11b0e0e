"""Keep the tension points (точки напряжённости) up to date as appeals arrive.

Listens for changes of appeals (the citypulse_appeals channel) and brings surges,
clusters and recurrences up to the database's clock after each batch of notifications,
and at least every --interval.  The work is checkpointed in the database (tension_state),
so a restarted worker resumes where it stopped; a second worker waits for the first's
transaction instead of duplicating points.  Each round logs the lag: now minus the newest
appeal processed.

Examples:
  citypulse tension                  # continuous, at least once a minute
  citypulse tension --interval 5m
  citypulse tension --once           # one round, then exit (cron, tests)
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from citypulse import Settings, positive_duration, stop_on_signals

if TYPE_CHECKING:
    import psycopg

HELP = "compute tension points (surges, clusters, recurrences) from the appeals"
log = logging.getLogger(__name__)
CHANNEL = "citypulse_appeals"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=positive_duration,
        default=timedelta(seconds=60),
        help="update at least this often, e.g. 30s, 5m (default 60s)",
    )
    parser.add_argument("--once", action="store_true", help="one update, then exit")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from appeals._routing import load_routing

    routing = load_routing(settings.routing_file)
    worker = _Worker(settings.database_url, routing, args.interval)
    if args.once:
        print(worker.round_once())
        return 0
    stop_on_signals(worker.stop, "tension worker")
    worker.run()
    return 0


class _Worker:
    """The loop: LISTEN on one connection, update on another, until stopped."""

    def __init__(self, database_url: str, routing: Any, interval: timedelta) -> None:
        self.database_url = database_url
        self.routing = routing
        self.interval_s = interval.total_seconds()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _update(self, conn: psycopg.Connection[Any]) -> str:
        from appeals.analysis import update_tension

        row = conn.execute("SELECT now()").fetchone()
        conn.commit()
        assert row is not None
        now: datetime = row[0]
        started = time.monotonic()
        result = update_tension(conn, self.routing, now)
        conn.commit()
        lag = "no appeals" if result.newest is None else f"lag {(now - result.newest)}"
        line = (
            f"tension: {result.opened} opened, {result.updated} updated, {result.ended} ended; "
            f"{lag}; {time.monotonic() - started:.2f} s"
        )
        log.info("%s", line)
        return line

    def round_once(self) -> str:
        from citypulse.db import connect

        with connect(self.database_url, application_name="citypulse-tension") as conn:
            return self._update(conn)

    def run(self) -> None:
        from psycopg import Error as DatabaseError

        from citypulse.db import connect

        failures = 0
        while not self._stop.is_set():
            try:
                with (
                    connect(self.database_url, application_name="citypulse-tension") as conn,
                    connect(
                        self.database_url,
                        application_name="citypulse-tension-listen",
                        autocommit=True,
                    ) as listen,
                ):
                    listen.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    self._loop(conn, listen)
            except (DatabaseError, OSError) as exc:
                failures += 1
                delay = min(self.interval_s, 2.0 ** min(failures, 6))
                log.warning("tension worker: database lost (%s); retry in %.0f s", exc, delay)
                self._stop.wait(delay)
            except Exception:
                # The top of the supervised loop: a bug is logged with its traceback.
                log.exception("tension worker: update failed")
                self._stop.wait(self.interval_s)
        print("tension worker stopped", file=sys.stderr)

    def _loop(self, conn: psycopg.Connection[Any], listen: psycopg.Connection[Any]) -> None:
        while not self._stop.is_set():
            self._update(conn)
            deadline = time.monotonic() + self.interval_s
            # Wake at the first notification, then let the rest of its batch arrive.
            while not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if any(True for _ in listen.notifies(timeout=min(left, 1.0), stop_after=1)):
                    for _ in listen.notifies(timeout=0.2):
                        pass
                    break
