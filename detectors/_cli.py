"""Run the city detector set over readings as they are stored, and open incidents.

Start as many workers as you like: they share the device partitions through PostgreSQL
advisory locks (a dead worker's partitions are taken over within seconds), checkpoint
their state with each transaction, and resume after a restart where they stopped.
With --from/--to, replay a stretch of history instead (fresh state, no checkpoints).

Examples:
  citypulse detect                               # live, claims partitions dynamically
  citypulse detect --partitions 8 --partition 3  # live, pinned to one partition
  citypulse detect --from 2026-03-01T00:00+03:00 --to 2026-03-08T00:00+03:00
"""

from __future__ import annotations

import argparse
import logging
import sys

from citypulse import (
    ConfigError,
    IncidentListener,
    IntRange,
    Settings,
    incident_listener,
    iso_time,
    non_negative_float,
    non_negative_int,
    positive_float,
    stop_on_signals,
)

HELP = "run anomaly detectors and open incidents"
log = logging.getLogger(__name__)
DEFAULT_LISTENER = "appeals"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--partitions", type=IntRange(1, 32_767), default=8, help="device partitions (default 8)"
    )
    parser.add_argument(
        "--partition", type=non_negative_int, default=None, help="pin this worker to one partition"
    )
    parser.add_argument("--worker-id", default=None, help="name in logs and checkpoints")
    parser.add_argument("--poll", type=positive_float, default=0.5, help="seconds between polls")
    parser.add_argument(
        "--overlap",
        type=non_negative_float,
        default=0.5,
        help="re-read at least this many seconds of arrivals (default 0.5); further back "
        "to what an ingest worker has received and not yet committed, up to --max-overlap",
    )
    parser.add_argument(
        "--max-overlap",
        type=non_negative_float,
        default=30.0,
        help="re-read at most this many seconds of arrivals for ingest's late commits (default 30)",
    )
    parser.add_argument(
        "--lookback",
        type=non_negative_float,
        default=600.0,
        help="a partition without checkpoint starts this many seconds back (default 600)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=non_negative_float,
        default=10.0,
        metavar="SECONDS",
        help="save a partition's state at most this often; a successor re-derives up to "
        "this much, idempotently (default 10; 0 = every poll)",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "data"),
        default="wall",
        help="time for silence: database clock (default) or newest reading (simulations)",
    )
    parser.add_argument(
        "--multivariate",
        choices=("none", "hst", "iforest"),
        default="none",
        help="also judge cameras with a learnt flow/speed/occupancy model",
    )
    parser.add_argument(
        "--listener",
        default=DEFAULT_LISTENER,
        help=f"the registered incident listener to call, or none (default {DEFAULT_LISTENER})",
    )
    parser.add_argument(
        "--from", dest="start", type=iso_time, help="replay from this ISO time (with offset)"
    )
    parser.add_argument(
        "--to", dest="end", type=iso_time, help="replay up to this ISO time (with offset)"
    )
    parser.add_argument("--dry-run", action="store_true", help="replay without writing")


def load_listener(name: str, settings: Settings) -> IncidentListener:
    """The registered incident listener ``name`` (``none``: incidents only, no appeals)."""
    from detectors._incidents import NullListener

    if name in ("", "none"):
        return NullListener()
    return incident_listener(name, settings)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from detectors._city import CityConfig
    from detectors._replay import replay
    from detectors._worker import DetectWorker, WorkerConfig

    city = CityConfig(multivariate=args.multivariate)
    listener = load_listener(args.listener, settings)
    worker_id = args.worker_id or settings.worker_id
    if args.start or args.end:
        if not (args.start and args.end):
            raise ConfigError("--from/--to", "give both ends of the replay")
        start, end = args.start, args.end
        if end <= start:
            raise ConfigError(
                "--from/--to", f"--to {end.isoformat()} is not after --from {start.isoformat()}"
            )

        def progress(done: float, report: object) -> None:
            r = report
            print(
                f"  {done:6.1%}  {getattr(r, 'readings', 0):,} readings, "
                f"{getattr(r, 'opened', 0)} opened, {getattr(r, 'resolved', 0)} resolved, "
                f"{getattr(r, 'wall_s', 0.0):.0f} s",
                file=sys.stderr,
                flush=True,
            )

        report = replay(
            database_url=settings.database_url,
            start=start,
            end=end,
            listener=listener,
            config=city,
            worker_id=f"replay-{worker_id}",
            dry_run=args.dry_run,
            progress=progress,
        )
        print(
            f"replayed {report.readings:,} readings ({report.events:,} events) in "
            f"{report.wall_s:.1f} s: {report.opened} incidents opened, {report.resolved} "
            f"resolved, {report.adopted} already stored" + (" (dry run)" if args.dry_run else "")
        )
        return 0
    try:
        config = WorkerConfig(
            database_url=settings.database_url,
            worker_id=worker_id,
            partitions=args.partitions,
            only=args.partition,
            poll_s=args.poll,
            overlap_s=args.overlap,
            max_overlap_s=args.max_overlap,
            lookback_s=args.lookback,
            checkpoint_s=args.checkpoint_every,
            clock=args.clock,
            city=city,
            manage_gc=True,
        )
    except ValueError as exc:
        raise ConfigError("detect", str(exc)) from exc
    worker = DetectWorker(config, listener=listener)

    stop_on_signals(worker.stop, f"detect worker {worker_id}")
    log.info("detect worker %s: %d partitions", worker_id, args.partitions)
    with worker:
        worker.run()
    return 0
