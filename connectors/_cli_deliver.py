"""Deliver appeals from the outbox to the connectors CITYPULSE_CONNECTORS names.

Run as many as you like: entries are claimed with SKIP LOCKED leases, so each is
delivered by one worker at a time.  `citypulse serve` runs the same worker in-process;
this command runs it alone (say, several on other hosts).  SIGTERM or Ctrl-C stops
claiming, lets in-flight deliveries finish and exits.  --once delivers what is due now,
prints the counters and exits (non-zero if anything failed).
"""

from __future__ import annotations

import argparse
import logging
import threading
from dataclasses import asdict

from citypulse import ConfigError, Settings, positive_int, stop_on_signals

HELP = "deliver appeals from the outbox"
log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrency", type=positive_int, default=4, help="deliveries in flight (default 4)"
    )
    parser.add_argument(
        "--once", action="store_true", help="deliver what is due now, print counters, exit"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from citypulse.db import connect
    from connectors._delivery import DeliveryWorker

    if not settings.connectors:
        raise ConfigError("CITYPULSE_CONNECTORS", "no connectors configured (e.g. webhook)")
    if args.once:
        # One round and out: a database it cannot reach is one line now, not the worker's
        # pool timing out with a traceback after ten seconds of warnings.
        connect(settings.database_url, connect_timeout=5).close()
    # httpx logs every request URL at INFO; a webhook URL may carry a token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    worker = DeliveryWorker.from_settings(settings, concurrency=args.concurrency)
    log.info("delivery %s: connectors %s", worker.worker_id, ", ".join(settings.connectors))
    with worker:
        if args.once:
            while worker.run_once():
                pass
            worker.sync_status_once()
        else:
            stop = threading.Event()
            stop_on_signals(stop.set, f"delivery {worker.worker_id}")
            worker.start()
            while not stop.wait(1.0):
                pass
    counters = worker.counters
    print(" ".join(f"{k}={v}" for k, v in asdict(counters).items()))
    return 1 if counters.failed_permanent or counters.failed_deadline else 0
