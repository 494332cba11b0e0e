"""Replay: the city detector set over a stretch of stored history (``detect --from/--to``).

The same :class:`~detectors._worker.Engine` and incident store as the live worker, with
fresh state, the data's own clock and one transaction per chunk of reading time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from citypulse import IncidentListener
from citypulse.db import connect, load_devices
from detectors._city import CityConfig
from detectors._incidents import IncidentStore
from detectors._rows import REPLAY, last_heard
from detectors._worker import Engine, PartitionState, events_from_rows


@dataclass(slots=True)
class ReplayReport:
    readings: int = 0
    events: int = 0
    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    adopted: int = 0
    wall_s: float = 0.0


def replay(
    *,
    database_url: str,
    start: datetime,
    end: datetime,
    listener: IncidentListener,
    config: CityConfig | None = None,
    worker_id: str = "replay",
    chunk_s: float = 3600.0,
    history_s: float = 86_400.0,
    dry_run: bool = False,
    progress: Callable[[float, ReplayReport], None] | None = None,
) -> ReplayReport:
    """Run the city detector set over readings with ``start <= time < end``.

    Detector state starts fresh and is not checkpointed; of the history before ``start``
    only each device's last reading time (up to ``history_s`` back) is seen, so a device
    silent since before ``start`` is reported and one reporting normally is not.
    Incidents are written as the live worker writes them, one transaction per chunk of
    ``chunk_s`` reading time; re-deriving a stored incident finds it instead of opening
    it twice.  ``dry_run`` rolls every chunk back.
    """
    if end <= start:
        raise ValueError("end must be after start")
    report = ReplayReport()
    began = time.monotonic()
    with connect(database_url, application_name=f"citypulse-detect {worker_id}") as conn:
        devices = load_devices(conn)
        conn.commit()
        engine = Engine(config or CityConfig(), devices)
        store = IncidentStore(listener=listener, worker=worker_id, devices=devices)
        state = PartitionState(0, start.timestamp())
        t0, t_end = start.timestamp(), end.timestamp()
        engine.seed(state, last_heard(conn, t0, history_s))
        conn.commit()
        while t0 < t_end:
            t1 = min(t_end, t0 + chunk_s)
            params = {"start": t0, "end": t1}
            with conn.transaction(force_rollback=dry_run):
                events = events_from_rows({source: source.fetch(conn, params) for source in REPLAY})
                before = state.readings
                # The clock is the data's: after the last reading, time does not pass.
                engine.feed(state, events, min(t1, events[-1].time) if events else None)
                report.readings += state.readings - before
                report.events += len(events)
                store.apply(conn, state.trackers.take())
            state.trackers.saved()
            t0 = t1
            c = store.counts
            report.opened, report.resolved = c.opened, c.resolved
            report.escalated, report.adopted = c.escalated, c.adopted
            report.wall_s = time.monotonic() - began
            if progress is not None:
                progress((t0 - start.timestamp()) / (t_end - start.timestamp()), report)
    return report
