"""What the soak's publishers sent, observed inside each publisher process.

A :class:`SentTap` rides in every publishing worker (see :class:`simulator.Tap`): it keeps
the key of every reading it saw published, compactly (one ``array('q')`` of epoch
milliseconds per device and lane), the wall time at which a sample of them left, when
each simulated second went out, and every message of the devices that carry faults.
The copies come back from the workers and are merged; the soak then compares them with
the database.
"""

from __future__ import annotations

import bisect
import resource
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from simulator import Message

#: (device kind, device id, lane): the readings of one series
Series = tuple[str, str, int]


def reading_ms(t: object) -> int:
    """A payload's ``time`` (epoch ms, or ISO 8601) as epoch milliseconds."""
    if isinstance(t, int):
        return t
    return int(datetime.fromisoformat(str(t)).timestamp() * 1000)


@dataclass
class SentTap:
    """See the module docstring; ``sample_every``: one message in this many is timed;
    past ``stop_at`` (epoch s; 0: never), or ``budget_s`` after its first message, a
    worker that fell behind publishes no more."""

    watch: frozenset[str] = frozenset()
    sample_every: int = 1
    stop_at: float = 0.0
    budget_s: float = 0.0
    series: dict[Series, array[int]] = field(default_factory=dict)
    samples: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    clock: list[tuple[float, float]] = field(default_factory=list)  # (sim t, wall sent)
    # per watched device: (newest data time in the message, wall sent, a status message?)
    watched: dict[str, list[tuple[float, float, bool]]] = field(default_factory=dict)
    messages: int = 0
    cut: bool = False  # a worker stopped at ``stop_at`` with messages left
    cpu_s: float = 0.0  # the publishers' CPU time (user + system)
    max_rss_kib: int = 0  # the largest publisher's peak RSS

    @property
    def readings(self) -> int:
        return sum(len(a) for a in self.series.values())

    def wrap(self, messages: Iterator[Message]) -> Iterator[Message]:
        # CPU and the budget count from here: a worker's start-up, or the simulation it
        # rendered beforehand, is not publishing
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = usage.ru_utime + usage.ru_stime
        if self.budget_s:
            self.stop_at = time.time() + self.budget_s
        loads = orjson.loads
        series = self.series
        n = 0
        last_clock = 0.0
        for m in messages:
            if self.stop_at and n % 256 == 0 and time.time() > self.stop_at:
                self.cut = True
                break
            yield m
            # Past the yield, ``m`` has been handed to its connection: this is when it left.
            now = time.time()
            n += 1
            if now - last_clock >= 0.05:
                last_clock = now
                self.clock.append((m.t, now))
            telemetry = m.valid and not m.last_will and m.topic.endswith("/telemetry")
            if m.device_id in self.watch:
                newest = m.t
                if telemetry:
                    body = loads(m.payload)
                    items = body if isinstance(body, list) else [body]
                    newest = max(reading_ms(r["time"]) for r in items) / 1000.0
                status = m.last_will or m.topic.endswith("/status")
                self.watched.setdefault(m.device_id, []).append((newest, now, status))
            if not telemetry:
                continue
            kind = m.topic.rsplit("/", 3)[-3]
            body = loads(m.payload)
            for r in body if isinstance(body, list) else (body,):
                key = (kind, m.device_id, int(r.get("lane_id", 0)))
                ms = reading_ms(r["time"])
                got = series.get(key)
                if got is None:
                    got = series[key] = array("q")
                got.append(ms)
            if n % self.sample_every == 0:
                self.samples.append((*key, ms, now))
        self.messages += n
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu_s += usage.ru_utime + usage.ru_stime - cpu0
        self.max_rss_kib = max(self.max_rss_kib, usage.ru_maxrss)

    def merge(self, other: Any) -> None:
        assert isinstance(other, SentTap)
        for key, values in other.series.items():
            self.series.setdefault(key, array("q")).extend(values)
        self.samples += other.samples
        self.clock = sorted(self.clock + other.clock)
        for device, sent in other.watched.items():
            self.watched.setdefault(device, []).extend(sent)
        self.messages += other.messages
        self.cut = self.cut or other.cut
        self.cpu_s += other.cpu_s
        self.max_rss_kib = max(self.max_rss_kib, other.max_rss_kib)

    def sent_at(self, t: float, device: str | None = None) -> float | None:
        """Wall time the data of simulated time ``t`` went out: ``device``'s first message
        holding a reading at or after ``t``, else the first message of any device at or
        after ``t`` (a silent device has none: its silence shows in the others' data).

        A time past the simulated clock is one ingest stamped on receipt (a status
        message carries none): then the device's last status message sent before it."""
        sent = sorted(self.watched.get(device or "", ()))
        if self.clock and t > self.clock[-1][0] + 1.0:
            before = [wall for _, wall, status in sent if status and wall <= t]
            return max(before) if before else None
        for newest, wall, _ in sent:
            if newest >= t:
                return wall
        i = bisect.bisect_left(self.clock, (t, 0.0))
        return self.clock[i][1] if i < len(self.clock) else None
