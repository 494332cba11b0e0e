"""The detect worker: stored readings in, incidents out, exactly once per partition.

Devices fall into ``partitions`` by ``citypulse_partition(device_id, partitions)``
(sql/0007).  Workers claim partitions dynamically with PostgreSQL session advisory
locks on a dedicated connection: each takes about ``partitions / live workers`` of
them (live workers are counted by their presence locks), so every series is processed
by exactly one worker at a time, and a dead worker's partitions are free the moment
its session ends.  ``only`` pins a worker to one partition instead.

One poll (every ``poll_s``) is one transaction: read the rows that arrived since the
watermark (``received_at``), re-reading from ``overlap_s`` before it or from the oldest
receipt time an ingest worker may still commit (``ingest_progress``, sql/0027), if older
and within ``max_overlap_s``: ingest commits out of the order it received in.  Re-read
rows are dropped because each series remembers the newest reading time it processed.
Then feed them in reading-time order to the city detector set, tick the
clock (silence fires with no data at all), apply the incident actions and call the
listener.  A partition's pickled state and watermark go to ``detector_checkpoints`` in
the same transaction, but at most every ``checkpoint_s`` (and always on its first poll,
before it is released and when the worker stops): at a large city's size a partition's
state is megabytes, and rewriting it on every poll cost more CPU and disk than the
detection itself.  Before committing, the worker checks that it still holds its
partitions' locks.  After a crash (even SIGKILL) the next owner restores the checkpoint
and re-reads from its watermark, up to ``checkpoint_s`` of readings it has already
processed: the incident store is idempotent (:mod:`detectors._incidents`), so what
was committed is found again rather than done twice, the listener is not called again,
and nothing after the checkpoint is missed.

The clock for ticks is the database's ``now()`` capped at the newest ``last_seen`` of
any device plus ``grace_s``: when ingest stalls, the whole city does not go "silent".
``clock="data"`` uses the newest ``last_seen`` alone (for simulations run faster than
real time).  Ticks only happen once a poll has caught up with what is stored, and while
catching up the clock steps with the readings' own times.  A device is judged silent
against the clock less the lag its newest reading arrived with (``received_at`` against
the clock at the time, :func:`receipt_clock`): when one gateway, publisher or broker
queue delivers minutes behind the rest, its devices are not silent while their data goes
on arriving; a device is silent once nothing has come from it for its silence limit.

:func:`replay` runs the same detector set over a stretch of history by reading time,
without checkpoints, writing (or, dry, only counting) the incidents it finds.

What a poll or a replay reads (one record per source table, and the SELECTs built from
it) is in :mod:`detectors._rows`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import math
import operator
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg

from citypulse import DatabaseError, Device, IncidentListener
from citypulse.db import connect, is_transient, load_devices, scalar
from detectors._city import CityConfig, Monitor, monitor_for
from detectors._errors import LostPartitionsError
from detectors._incidents import IncidentStore, Judgement, Trackers
from detectors._rows import (
    LIVE,
    CameraRow,
    DeadLetterRow,
    Rank,
    SourceQuery,
    SourceRow,
    StatusRow,
    fetch_one,
    last_heard,
)

log = logging.getLogger(__name__)

LOCK_CLASS: Final = 1_668_571_001  # advisory lock (class, partitions * 65536 + partition)
PRESENCE_CLASS: Final = 1_668_571_002  # advisory lock (class, slot): one per live worker
_MAX_SLOTS: Final = 4096
#: The shape of a pickled :class:`PartitionState`.  Raise it whenever a detector's state
#: changes shape (slots added or renamed): a checkpoint of another format then restarts
#: its detectors at its watermark, instead of failing on a missing attribute mid-stream.
#: 2: PairDrift's shadow fit, StuckPhase's gaps, Collapse's hourly profile, FullForLong.
#: 3: an episode's ``alarm_base`` (idempotent alarm counts).
#: 4: SeasonalStream keeps its bins as floats (no river objects), Novelty packs its sets,
#: a Finding is always an alarm (no ``alarm`` slot).
#: 5: a limit's moving window in two float arrays.
#: 6: a camera lane keeps the time of its last report (its lanes judged together).
#: 7: a camera lane's and a parking lot's learnt normal without its score (learned_views);
#: the trackers keep the set of devices that have one.
#: 8: a device's monitor keeps the lag of its newest reading's arrival.
#: 9: Collapse keeps the level its profile expected (its scale at a run's start).
CHECKPOINT_FORMAT: Final = 9

_CLOCK: Final = (
    "SELECT extract(epoch FROM now())::float8 AS now, "
    "extract(epoch FROM (SELECT max(last_seen) FROM devices WHERE last_seen <= now() + "
    "interval '5 minutes'))::float8 AS newest_seen, "
    "extract(epoch FROM (SELECT min(committed_through) FROM ingest_progress "
    "WHERE updated_at > now() - interval '1 minute'))::float8 AS committed_through"
)
_NOW: Final = "SELECT extract(epoch FROM now())::float8"
_LOAD_CHECKPOINT: Final = (
    "SELECT state, extract(epoch FROM watermark)::float8 AS watermark "
    "FROM detector_checkpoints WHERE partitions = %s AND partition = %s"
)
_SAVE_CHECKPOINT: Final = """
INSERT INTO detector_checkpoints (partitions, partition, state, watermark, worker, saved_at)
VALUES (%s, %s, %s, to_timestamp(%s), %s, now())
ON CONFLICT (partitions, partition) DO UPDATE SET
    state = EXCLUDED.state, watermark = EXCLUDED.watermark, worker = EXCLUDED.worker,
    saved_at = now()
"""


_TRY_LOCK: Final = "SELECT pg_try_advisory_lock(%s, %s)"
_HELD_LOCKS: Final = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s "
    "AND classid = %s AND objsubid = 2 AND granted AND objid::bigint = ANY(%s)"
)
_LIVE_WORKERS: Final = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
    "AND objsubid = 2 AND granted AND database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())"
)


# --- the pure part: one partition's detectors and incident trackers ---------------------


class PartitionState:
    """Everything one partition remembers between polls; pickled as its checkpoint."""

    def __init__(self, partition: int, watermark: float) -> None:
        self.format = CHECKPOINT_FORMAT
        self.partition = partition
        self.watermark = watermark
        self.last_tick = -math.inf
        self.monitors: dict[str, Monitor[Any]] = {}
        self.trackers = Trackers()
        self.dead_seen: dict[int, float] = {}  # dead-letter id -> received_at, recent only
        self.readings = 0


Event = SourceRow  # fed in time order (:func:`events_from_rows`)


@dataclass(slots=True)
class Engine:
    """Feeds events to monitors and trackers; no I/O.  One per worker."""

    config: CityConfig
    devices: Mapping[str, Device]
    tick_step_s: float = 10.0
    unknown: set[str] = field(default_factory=set)

    def monitor(self, state: PartitionState, device_id: str) -> Monitor[Any] | None:
        mon = state.monitors.get(device_id)
        if mon is None:
            device = self.devices.get(device_id)
            if device is None:
                self.unknown.add(device_id)
                return None
            mon = state.monitors[device_id] = monitor_for(device, self.config)
        return mon

    def seed(self, state: PartitionState, last_heard: Mapping[str, float]) -> None:
        """Tell a fresh ``state`` when each device was last heard of before its start.

        Without it a device is "never heard from" at a start, restart onto an unreadable
        checkpoint or replay boundary: one that stopped reporting before the boundary is
        never reported, and an offline status has no silence to measure.
        """
        for device_id, t in last_heard.items():
            if device_id in self.devices:
                mon = self.monitor(state, device_id)
                assert mon is not None
                mon.silence.update(t, None)

    def feed(
        self,
        state: PartitionState,
        events: list[Event],
        now: float | None,
        *,
        wall: float | None = None,
        receipt: Receipt | None = None,
    ) -> None:
        """Process ``events`` (sorted by time) and, if given, let the clock reach ``now``.

        A live worker also gives ``receipt``, the clock when a row arrived (see
        :data:`Receipt`), and ``wall``, its clock before the cap (see :meth:`tick`).  Each
        device then keeps how far behind the clock its newest reading arrived
        (:attr:`Monitor.lag`)."""
        findings: list[Judgement] = []
        trackers = state.trackers
        step = self.tick_step_s
        at = None  # the clock when the row arrived (on the data's clock, a status's or a
        # dead letter's is the last reading's)
        for row in events:
            t = row.time
            device_id = row.device_id
            if receipt is not None:
                at = receipt(row.received_at, at)
            if t - state.last_tick >= step and state.last_tick > -math.inf:
                self.tick(state, t, at)
            elif state.last_tick == -math.inf:
                state.last_tick = t
            mon = self.monitor(state, device_id)
            if mon is None:
                continue
            if isinstance(row, StatusRow):
                if not mon.fresh("status", t):
                    continue
                mon.status(t, bool(row.online), str(row.reason), findings)
            elif isinstance(row, DeadLetterRow):
                if row.id in state.dead_seen:
                    continue
                state.dead_seen[row.id] = t
                mon.dead_letter(t, str(row.reason), str(row.detail or ""), findings)
            else:
                # A camera's lanes are separate series; any other device has one.
                if not mon.fresh(row.lane_id if isinstance(row, CameraRow) else 0, t):
                    continue
                state.readings += 1
                if at is not None:
                    mon.lag = at - t
                mon.reading(row, findings)
            trackers.observe_all(device_id, findings)
            findings.clear()
        if now is not None and now > state.last_tick:
            self.tick(state, now, wall)

    def tick(self, state: PartitionState, now: float, wall: float | None = None) -> None:
        """Let the clock reach ``now``.  With ``wall`` (a live worker's clock before its
        cap), each device is judged at ``wall`` minus its :attr:`Monitor.lag`, never after
        ``now``: a device whose data comes late (a gateway, a publisher or a broker queue
        behind the rest) is silent once nothing has arrived from it for its silence
        limit, not as soon as the others' readings are newer than its own."""
        findings: list[Judgement] = []
        observe_all = state.trackers.observe_all
        for device_id, mon in state.monitors.items():
            mon.tick(now if wall is None else min(now, wall - mon.lag), findings)
            if findings:  # nearly always empty: a tick judges only silence
                observe_all(device_id, findings)
                findings.clear()
        state.trackers.tick(now)
        state.last_tick = now


def events_from_rows(rows_by_source: Mapping[SourceQuery, Iterable[SourceRow]]) -> list[Event]:
    """Rows as the worker's source queries select them, merged by time.

    At the same instant readings come first, then status changes, then dead letters
    (:class:`Rank`), and rows of one rank keep their sources' order: a stable sort by
    time of the rows laid out in that order.  No tuple is built per row."""
    events: list[Event] = []
    for source in sorted(rows_by_source, key=_RANK):
        events.extend(rows_by_source[source])
    events.sort(key=_TIME)
    return events


#: The clock when a row arrived, from its ``received_at`` and the clock the row before it
#: gave: on the wall's clock :func:`wall_receipt`, on the data's ``receipt_clock(...).get``.
Receipt = Callable[[float, float | None], float | None]


def wall_receipt(received: float, before: float | None) -> float:
    """On the wall's clock a row's ``received_at`` is the clock when it arrived."""
    return received


def receipt_clock(
    rows_by_source: Mapping[SourceQuery, Iterable[SourceRow]], newest: float
) -> tuple[dict[float, float], float]:
    """The data's clock at each ``received_at`` of the readings, and the newest reading
    time received so far (``newest`` before these rows).

    On the data's own clock (a simulation run faster than real time, where
    ``received_at`` is still wall time) the clock when a reading arrived is the newest
    reading time received by then.  Statuses and dead letters are left out: their times
    may be the receiver's, not the data's; a row missing from the map keeps the clock of
    the row before it."""
    by_receipt: dict[float, float] = {}
    get = by_receipt.get
    for source, rows in rows_by_source.items():
        if source.rank != Rank.READING:
            continue
        for row in rows:
            received, t = row.received_at, row.time
            if t > get(received, -math.inf):
                by_receipt[received] = t
    clock: dict[float, float] = {}
    for received in sorted(by_receipt):
        newest = max(newest, by_receipt[received])
        clock[received] = newest
    return clock, newest


_RANK: Final = operator.attrgetter("rank")
_TIME: Final = operator.attrgetter("time")


# --- the worker -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    database_url: str = field(repr=False)
    worker_id: str
    partitions: int = 8
    only: int | None = None
    poll_s: float = 0.5
    overlap_s: float = 0.5
    max_overlap_s: float = 30.0
    limit: int = 50_000
    lookback_s: float = 600.0
    max_lateness_s: float = 86_400.0
    clock: str = "wall"  # wall | data
    grace_s: float = 60.0
    checkpoint_s: float = 10.0
    rebalance_s: float = 2.0
    device_refresh_s: float = 30.0
    city: CityConfig = field(default_factory=CityConfig)
    # Own the process's cyclic collector (:meth:`DetectWorker._poll_managed`): a
    # process-wide choice, so the command makes it, not the library (tests run many
    # workers in one process).
    manage_gc: bool = False
    refreeze_s: float = 300.0

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= 32_767:
            raise ValueError("partitions must be 1..32767")
        if self.only is not None and not 0 <= self.only < self.partitions:
            raise ValueError("partition must be in 0..partitions-1")
        if self.clock not in ("wall", "data"):
            raise ValueError("clock must be wall or data")
        if not 0.0 <= self.checkpoint_s <= 3600.0:
            raise ValueError("checkpoint interval must be 0..3600 s")
        if not 0.0 <= self.overlap_s <= self.max_overlap_s:
            raise ValueError("overlap must be between 0 and max_overlap")


@dataclass(slots=True)
class WorkerStats:
    polls: int = 0
    readings: int = 0
    rows: int = 0
    commits: int = 0
    errors: int = 0
    claimed: int = 0
    released: int = 0
    checkpoints: int = 0


class DetectWorker:
    """Runs polls until :meth:`stop`; see the module docstring."""

    def __init__(self, config: WorkerConfig, *, listener: IncidentListener) -> None:
        self.config = config
        self.listener = listener
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._lock_conn: psycopg.Connection[Any] | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._slot: int | None = None
        self._states: dict[int, PartitionState] = {}
        self._caught_up = True  # the last poll read all there was (no row limit hit)
        # With the data's clock: the newest reading time received so far (receipt_clock)
        self._receipt_newest = -math.inf
        # partition -> monotonic time of its last checkpoint in this session
        self._saved_at: dict[int, float] = {}
        self._dirty: set[int] = set()  # partitions changed since their last checkpoint
        self._devices: dict[str, Device] = {}
        self._devices_at = 0.0
        self._frozen_at = -math.inf
        self._frozen_claims = 0
        self._rebalanced_at = 0.0
        self.engine = Engine(config.city, self._devices)
        self.store = IncidentStore(
            listener=listener, worker=config.worker_id, devices=self._devices
        )

    @property
    def held(self) -> list[int]:
        return sorted(self._states)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.flush()
        if self._lock_conn is not None and not self._lock_conn.broken:
            # Hand the partitions over now: closing the connection returns before the
            # server has ended the session, and another worker may be claiming already.
            with contextlib.suppress(psycopg.Error):
                self._lock_conn.execute("SELECT pg_advisory_unlock_all()")
        for c in (self._conn, self._lock_conn):
            if c is not None:
                c.close()
        self._conn = self._lock_conn = None
        self._forget()
        self._slot = None

    def _forget(self) -> None:
        """Own no partition state any more (closed, or its locks died with a session)."""
        self._states.clear()
        self._saved_at.clear()
        self._dirty.clear()

    def flush(self) -> None:
        """Checkpoint every partition changed since its last checkpoint, so the next owner
        resumes exactly here; a failure is logged (the next owner then re-derives)."""
        if not self._dirty or self._conn is None or self._lock_conn is None:
            return
        if self._conn.broken or self._lock_conn.broken:
            return
        parts = sorted(self._dirty)
        try:
            with self._conn.transaction():
                self._fence(self._lock_conn, self._conn, parts)
                self._checkpoint(self._conn, parts)
        except (psycopg.Error, LostPartitionsError) as exc:
            log.warning("detect worker %s: final checkpoint failed: %s", self.config.worker_id, exc)

    def _checkpoint(self, conn: psycopg.Connection[Any], parts: list[int]) -> None:
        """Save ``parts``' states in ``conn``'s open transaction, which the caller has
        fenced (:meth:`_fence`).  They count as saved from here: if the transaction
        fails, the caller forgets every state anyway."""
        for p in parts:
            state = self._states[p]
            conn.execute(
                _SAVE_CHECKPOINT,
                (
                    self.config.partitions,
                    p,
                    pickle.dumps(state, protocol=5),
                    state.watermark,
                    self.config.worker_id,
                ),
            )
        self._saved_now(parts)

    def _saved_now(self, parts: list[int]) -> None:
        now = time.monotonic()
        for p in parts:
            self._saved_at[p] = now
            self._dirty.discard(p)
        self.stats.checkpoints += len(parts)

    def __enter__(self) -> DetectWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections and partitions --

    def _connections(self) -> tuple[psycopg.Connection[Any], psycopg.Connection[Any]]:
        name = f"citypulse-detect {self.config.worker_id}"
        if self._lock_conn is None or self._lock_conn.closed or self._lock_conn.broken:
            self._forget()  # locks died with the session: own nothing any more
            self._slot = None
            self._lock_conn = connect(
                self.config.database_url, application_name=name, autocommit=True
            )
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.config.database_url, application_name=name)
        return self._lock_conn, self._conn

    def _key(self, partition: int) -> int:
        return self.config.partitions * 65_536 + partition

    def rebalance(self) -> None:
        """Claim free partitions up to a fair share; release any beyond it."""
        lock, conn = self._connections()
        cfg = self.config
        if self._slot is None:
            for slot in range(_MAX_SLOTS):
                if scalar(lock, _TRY_LOCK, (PRESENCE_CLASS, slot)):
                    self._slot = slot
                    break
        live = max(1, int(scalar(lock, _LIVE_WORKERS, (PRESENCE_CLASS,))))
        if cfg.only is not None:
            candidates, target = [cfg.only], 1
        else:
            start = (self._slot or 0) * max(1, cfg.partitions // live)
            candidates = [(start + i) % cfg.partitions for i in range(cfg.partitions)]
            target = math.ceil(cfg.partitions / live)
        for p in candidates:
            if len(self._states) >= target:
                break
            if p in self._states:
                continue
            if scalar(lock, _TRY_LOCK, (LOCK_CLASS, self._key(p))):
                self._states[p] = self._load(conn, p)
                self.stats.claimed += 1
                log.info("worker %s claimed partition %d/%d", cfg.worker_id, p, cfg.partitions)
        while len(self._states) > target:
            p = max(self._states)
            if p in self._dirty:  # hand it over where it is, not at its last checkpoint
                with conn.transaction():
                    self._fence(lock, conn, [p])
                    self._checkpoint(conn, [p])
            del self._states[p]
            self._saved_at.pop(p, None)
            lock.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, self._key(p)))
            self.stats.released += 1
            log.info("worker %s released partition %d/%d", cfg.worker_id, p, cfg.partitions)

    def _load(self, conn: psycopg.Connection[Any], partition: int) -> PartitionState:
        """The partition's checkpoint, or a fresh state seeded with what came before it."""
        with conn.transaction():
            row = fetch_one(conn, _LOAD_CHECKPOINT, (self.config.partitions, partition))
            now = float(scalar(conn, _NOW))
        state = self._restore(row, partition)
        if state is None:
            watermark = now - self.config.lookback_s
            if row is not None and row["watermark"] is not None:
                watermark = float(row["watermark"])
            state = PartitionState(partition, watermark)
            self._refresh_devices(conn, force=True)
            with conn.transaction():
                heard = last_heard(
                    conn,
                    watermark - self.config.overlap_s,
                    self.config.max_lateness_s,
                    partition=(self.config.partitions, partition),
                )
            self.engine.seed(state, heard)
        return state

    @staticmethod
    def _restore(row: Mapping[str, Any] | None, partition: int) -> PartitionState | None:
        if row is not None:
            try:
                # Our own table, written only by detect workers: trusted like the code.
                state = pickle.loads(row["state"])  # noqa: S301
            except Exception:  # a checkpoint from an incompatible version of the code
                log.exception(
                    "partition %d: checkpoint unreadable; detectors start afresh at its watermark",
                    partition,
                )
            else:
                if not isinstance(state, PartitionState):
                    return None
                found = state.__dict__.get("format", 1)
                if found == CHECKPOINT_FORMAT:
                    return state
                log.warning(
                    "partition %d: checkpoint of format %s, not %d; "
                    "detectors start afresh at its watermark",
                    partition,
                    found,
                    CHECKPOINT_FORMAT,
                )
        return None

    def _refresh_devices(self, conn: psycopg.Connection[Any], force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._devices_at >= self.config.device_refresh_s:
            with conn.transaction():
                fresh = load_devices(conn)
            self._devices.clear()
            self._devices.update(fresh)
            self._devices_at = now

    # -- one poll --

    def poll(self) -> int:
        """One transaction over every held partition; returns the rows read."""
        lock, conn = self._connections()
        if not self._states:
            return 0
        cfg = self.config
        self._refresh_devices(conn, force=bool(self.engine.unknown))
        self.engine.unknown.clear()
        held = sorted(self._states)
        base = min(s.watermark for s in self._states.values())
        try:
            with conn.transaction():
                clock = fetch_one(conn, _CLOCK)
                assert clock is not None
                db_now = float(clock["now"])
                since = self._since(base, clock["committed_through"])
                params = {
                    "since": since,
                    "upto": db_now + 1.0,
                    "oldest": since - cfg.max_lateness_s,
                    "partitions": cfg.partitions,
                    "held": held,
                    "limit": cfg.limit,
                }
                rows: dict[SourceQuery, list[SourceRow]] = {}
                upto = math.inf
                for source in LIVE:
                    got = source.fetch(conn, params)
                    rows[source] = got
                    if len(got) >= cfg.limit:
                        upto = min(upto, got[-1].received_at)
                caught_up = upto == math.inf
                self._caught_up = caught_up
                if not caught_up:
                    rows = {k: [r for r in v if r.received_at < upto] for k, v in rows.items()}
                newest = max((r.received_at for v in rows.values() for r in v), default=None)
                count = sum(len(v) for v in rows.values())
                now = wall = None
                if caught_up:
                    newest_seen = clock["newest_seen"]
                    if cfg.clock == "data":
                        now = wall = newest_seen
                    elif newest_seen is not None:
                        now = min(db_now, float(newest_seen) + cfg.grace_s)
                        wall = db_now
                receipt: Receipt = wall_receipt
                if cfg.clock == "data":
                    clock_at, self._receipt_newest = receipt_clock(rows, self._receipt_newest)
                    receipt = clock_at.get
                seen = {r.device_id for v in rows.values() for r in v}
                if not seen <= self._devices.keys():
                    self._devices.clear()  # registered since the last refresh
                    self._devices.update(load_devices(conn))
                by_part = self._route(rows, cfg.partitions)
                actions = []
                changed = []
                fed = 0  # readings processed (not re-read)
                for p, state in self._states.items():
                    events = events_from_rows(by_part.get(p, {}))
                    fed -= state.readings
                    self.engine.feed(state, events, now, wall=wall, receipt=receipt)
                    fed += state.readings
                    if newest is not None:
                        # Cut at ``upto``, the rows kept end before it: the next poll reads
                        # on from the newest kept, not from ``upto``, or the rows that
                        # arrived at ``upto`` itself would be skipped without an overlap.
                        state.watermark = max(state.watermark, newest)
                    horizon = state.watermark - cfg.max_overlap_s - cfg.overlap_s - 60.0
                    if state.dead_seen:
                        state.dead_seen = {k: v for k, v in state.dead_seen.items() if v >= horizon}
                    taken = state.trackers.take()
                    actions.extend(taken)
                    # Ticks alone change nothing worth saving unless they acted: a restart
                    # would tick again to the same effect.
                    if events or taken:
                        changed.append(p)
                self.store.apply(conn, actions)
                self._fence(lock, conn, held)
                self._dirty.update(changed)
                due = time.monotonic() - cfg.checkpoint_s
                save = [
                    p
                    for p in held
                    if p not in self._saved_at or (p in self._dirty and self._saved_at[p] <= due)
                ]
                self._checkpoint(conn, save)
        except BaseException:
            self.stats.errors += 1
            # In-memory state ran ahead of the rolled-back transaction: reload it.
            states = self._states
            self._forget()
            if not conn.broken:
                self._states = {p: self._load(conn, p) for p in states}
            raise
        for state in self._states.values():
            state.trackers.saved()
        self.stats.polls += 1
        self.stats.commits += 1
        self.stats.rows += count
        self.stats.readings += fed
        return count

    def _since(self, base: float, committed_through: float | None) -> float:
        """Where a poll re-reads arrivals from: ``overlap_s`` before the watermark, or
        before the oldest receipt time an ingest worker may still commit, if older (not
        more than ``max_overlap_s`` back, and not while catching up, when the row limit
        cut the last poll: that read must move on)."""
        cfg = self.config
        if committed_through is None or not self._caught_up:
            return base - cfg.overlap_s
        return min(base, max(committed_through, base - cfg.max_overlap_s)) - cfg.overlap_s

    def _fence(
        self, lock: psycopg.Connection[Any], conn: psycopg.Connection[Any], held: list[int]
    ) -> None:
        pid = lock.info.backend_pid
        keys = [self._key(p) for p in held]
        if int(scalar(conn, _HELD_LOCKS, (pid, LOCK_CLASS, keys))) != len(held):
            raise LostPartitionsError(self.config.worker_id)

    @staticmethod
    def _route(
        rows: Mapping[SourceQuery, list[SourceRow]], partitions: int
    ) -> dict[int, dict[SourceQuery, list[SourceRow]]]:
        out: dict[int, dict[SourceQuery, list[SourceRow]]] = {}
        for source, got in rows.items():
            for r in got:
                p = partition_of(r.device_id, partitions)
                out.setdefault(p, {}).setdefault(source, []).append(r)
        return out

    # -- the loop --

    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Poll until :meth:`stop` (or ``until()``); a database that is unreachable or
        busy (:func:`citypulse.db.is_transient`) and lost partition locks back off and
        retry, other errors are raised."""
        backoff = 0.5
        while not self._stop.is_set() and not (until and until()):
            started = time.monotonic()
            try:
                if started - self._rebalanced_at >= self.config.rebalance_s or not self._states:
                    self.rebalance()
                    self._rebalanced_at = started
                got = self._poll_managed() if self.config.manage_gc else self.poll()
                backoff = 0.5
            except (psycopg.Error, DatabaseError, LostPartitionsError) as exc:
                # Reconnecting raises DatabaseUnavailable, a lost connection mid-poll
                # psycopg's OperationalError: both transient; anything else stops the worker.
                if not (isinstance(exc, LostPartitionsError) or is_transient(exc)):
                    raise
                log.warning("detect worker %s: %s; retrying", self.config.worker_id, exc)
                self._drop_connections()
                self._stop.wait(backoff * (0.5 + _jitter()))
                backoff = min(10.0, backoff * 2)
                continue
            if got < self.config.limit // 2:
                self._stop.wait(max(0.0, self.config.poll_s - (time.monotonic() - started)))

    def _poll_managed(self) -> int:
        """:meth:`poll` with the cyclic collector paused, and the partitions' state frozen
        out of its reach once built (after each claim and every ``refreeze_s``).

        A poll allocates a tuple per stored row, and they all live until it ends: the
        collector ran every few hundred of them, and each full collection walked the rows
        so far and the partitions' state (a few hundred thousand long-lived objects in a
        large city), neither of which ever holds a cycle.  Paused, it runs between polls,
        once the rows are freed.  Frozen objects are still freed by their reference
        counts; collecting just before freezing keeps the garbage of the moment out.
        """
        gc.disable()
        try:
            got = self.poll()
        finally:
            gc.enable()
        now = time.monotonic()
        claims = self.stats.claimed
        if claims != self._frozen_claims or now - self._frozen_at >= self.config.refreeze_s:
            gc.collect()
            gc.freeze()
            self._frozen_at, self._frozen_claims = now, claims
            log.debug(
                "detect worker %s: %d objects frozen", self.config.worker_id, gc.get_freeze_count()
            )
        return got

    def _drop_connections(self) -> None:
        for c in (self._conn, self._lock_conn):
            if c is not None:
                with contextlib.suppress(psycopg.Error):
                    c.close()
        self._conn = self._lock_conn = None
        self._forget()
        self._slot = None


def _jitter() -> float:
    import random

    return random.random()


@functools.lru_cache(maxsize=1 << 16)  # every row is routed: a city's ids, hashed once
def partition_of(device_id: str, partitions: int) -> int:
    """Python twin of SQL ``citypulse_partition`` (md5 of the id, first 32 bits)."""
    return int(hashlib.md5(device_id.encode()).hexdigest()[:8], 16) % partitions  # noqa: S324
