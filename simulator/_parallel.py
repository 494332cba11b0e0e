"""Publishing from several processes, each simulating and publishing a share of devices.

One Python process tops out at a few thousand QoS 1 publications a second (paho's per-
message cost).  Devices are independent (each has its own seed), so ``workers`` processes
each run the generator for every ``workers``-th device and publish it over their own
connections; together they publish exactly what one process would.  A :class:`Tap`
(a benchmark's observer) sees each worker's stream as it is published and is sent back
to be merged into the caller's.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from citypulse import MqttUrl
from simulator._city import City, Intervals
from simulator._errors import PublishError
from simulator._faults import Fault
from simulator._generator import Simulation
from simulator._message import Message
from simulator._publish import Mode, Progress, PublishReport, publish


class Tap(Protocol):
    """Watches a worker's messages as they are published (pickled into each worker)."""

    def wrap(self, messages: Iterator[Message]) -> Iterator[Message]:
        """Yield the messages to publish (``messages``, or a bench's variant of each),
        observing each: code after a ``yield`` runs once the message has been handed to
        the broker connection."""
        ...

    def merge(self, other: Any) -> None:
        """Add what a worker's copy (returned from its process) observed."""
        ...


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything a worker process needs to rebuild its share of the simulation."""

    city: City
    start: datetime
    end: datetime
    seed: int = 0
    faults: tuple[Fault, ...] = ()
    intervals: Intervals = field(default_factory=Intervals)
    topic_root: str = "city"
    batch_s: float = 0.0  # one batch window for every device; 0: the city's gateways

    def simulation(self, *, worker: int = 0, workers: int = 1) -> Simulation:
        ids = [d.id for d in self.city.devices(self.intervals)][worker::workers]
        return Simulation(
            self.city,
            start=self.start,
            end=self.end,
            seed=self.seed,
            faults=self.faults,
            intervals=self.intervals,
            topic_root=self.topic_root,
            only=ids,
        )


def _worker(
    spec: RunSpec,
    worker: int,
    workers: int,
    options: dict[str, Any],
    sent: Any,
    clock: Any,
    results: Any,
    tap: Tap | None,
    start: Any | None,
) -> None:
    # Ctrl-C reaches the whole process group: the parent decides, and ends the workers
    # at once (see publish_parallel); a worker left to die of it mid-publish reports a
    # broker error instead, or keeps its connections up while its parent waits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sim = spec.simulation(worker=worker, workers=workers)
        stream: Iterator[Message] = sim.published(spec.batch_s)
        if start is not None:  # render everything first, then wait for the word
            stream = iter(list(stream))
            results.put((worker, None, None, _READY))
            parent = multiprocessing.parent_process()
            while not start.wait(1.0):
                if parent is not None and not parent.is_alive():
                    return
        if tap is not None:
            stream = tap.wrap(stream)

        def progress(p: Progress) -> None:
            sent[worker] = p.messages
            clock[worker] = p.sim_time

        report = publish(
            stream,
            devices=sim.devices,
            topic_root=spec.topic_root,
            progress=progress,
            progress_every_s=0.5,
            **options,
        )
        results.put((worker, report, None, tap))
    except Exception as exc:  # reported to the parent, which raises it
        results.put((worker, None, f"{type(exc).__name__}: {exc}", None))


_READY: Final = "ready"  # in a result's tap slot: a rendering worker's messages are ready


def publish_parallel(
    spec: RunSpec,
    *,
    mqtt_url: MqttUrl,
    workers: int = 2,
    mode: Mode = "gateway",
    gateways: int = 2,
    speed: float | None = None,
    rate: float | None = None,
    max_inflight: int = 2000,
    client_prefix: str = "citypulse-sim",
    ca_file: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    progress_every_s: float = 2.0,
    tap: Tap | None = None,
    prerender: bool = False,
    on_start: Callable[[], None] | None = None,
    client: Literal["paho", "lean"] = "paho",
) -> PublishReport:
    """Run ``spec`` in ``workers`` processes; ``rate`` is the total offered rate.

    With ``tap``, each worker wraps its stream in a copy of it, and every copy that
    finished is merged into ``tap``.  With ``prerender``, each worker simulates its whole
    share into memory before any is published, so that publishing costs only what a
    real gateway's connection costs (a benchmark of what receives the city, on the
    machine that simulates it).  ``on_start`` is called just before publishing starts,
    once every worker has rendered; ``progress`` every ``progress_every_s`` from then on,
    its ``wall_s`` counted from that start.  ``client`` is :func:`publish`'s."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    ctx = multiprocessing.get_context("spawn")
    sent = ctx.Array("q", workers)
    clock = ctx.Array("d", workers)
    results = ctx.Queue()
    start = ctx.Event() if prerender else None
    procs = []
    if on_start is not None and start is None:
        on_start()
    wall0 = time.monotonic()
    for w in range(workers):
        options: dict[str, Any] = {
            "mqtt_url": mqtt_url,
            "mode": mode,
            "gateways": gateways,
            "speed": speed,
            "rate": None if rate is None else rate / workers,
            "max_inflight": max(1, max_inflight // workers),
            "client_prefix": f"{client_prefix}-w{w}" if mode == "gateway" else client_prefix,
            "ca_file": ca_file,
            "client": client,
        }
        proc = ctx.Process(
            target=_worker,
            args=(spec, w, workers, options, sent, clock, results, tap, start),
            name=f"citypulse-sim-{w}",
            daemon=True,
        )
        proc.start()
        procs.append(proc)
    reports: list[PublishReport] = []
    errors: list[str] = []
    ready = 0
    next_progress = wall0 + progress_every_s
    try:
        while len(reports) + len(errors) < workers:
            try:
                w, report, error, tapped = results.get(timeout=0.2)
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise PublishError(dead[0].name, f"exited with {dead[0].exitcode}") from None
            else:
                if error:
                    errors.append(f"worker {w}: {error}")
                    if start is not None and not start.is_set():  # the others wait: end them
                        raise PublishError(client_prefix, errors[-1])
                elif isinstance(tapped, str) and tapped == _READY:
                    ready += 1
                    if start is not None and ready == workers:
                        if on_start is not None:
                            on_start()
                        wall0 = time.monotonic()
                        start.set()
                else:
                    reports.append(report)
                    if tap is not None:
                        tap.merge(tapped)
            now = time.monotonic()
            if start is not None and not start.is_set():
                next_progress = now + progress_every_s  # rendering: nothing published yet
            elif progress is not None and now >= next_progress:
                next_progress = now + progress_every_s
                progress(Progress(sum(sent[:]), min(clock[:]), now - wall0, 0))
    except BaseException:  # an error, or Ctrl-C: the workers stop now, not in 10 s each
        for p in procs:
            if p.is_alive():
                p.terminate()
        raise
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    if errors:
        raise PublishError(client_prefix, "; ".join(errors))
    return _merge(reports, time.monotonic() - wall0)


def _merge(reports: Sequence[PublishReport], wall: float) -> PublishReport:
    return PublishReport(
        messages=sum(r.messages for r in reports),
        bytes=sum(r.bytes for r in reports),
        wills=sum(r.wills for r in reports),
        wall_s=wall,
        connections=sum(r.connections for r in reports),
        mode=reports[0].mode,
    )
