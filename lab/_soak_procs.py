"""Per-process CPU, memory and disk I/O from /proc, for the soak.

A watched process counts with its live descendants (PostgreSQL's backends, say), and
with the CPU of descendants that have exited and been reaped (``cutime``/``cstime``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += _children(p)
    return found


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid``, its reaped children and its live ones."""
    total = 0.0
    for i, p in enumerate(tree(pid)):
        try:
            with open(f"/proc/{p}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state (field 3): utime is field 14, cutime 16
        ticks = int(fields[11]) + int(fields[12])
        if i == 0:
            ticks += int(fields[13]) + int(fields[14])
        total += ticks / _TICK
    return total


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` alone in KiB (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def io_bytes(pid: int) -> tuple[int, int]:
    """Bytes ``pid`` and its live descendants read from and wrote to storage."""
    read = written = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/io", encoding="ascii") as f:
                for line in f:
                    name, _, value = line.partition(":")
                    if name == "read_bytes":
                        read += int(value)
                    elif name == "write_bytes":
                        written += int(value)
        except OSError:
            continue
    return read, written


def machine_s() -> tuple[float, float]:
    """The machine's CPU seconds since boot (all cores): busy, and waiting for I/O."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    busy = fields[0] + fields[1] + fields[2] + sum(fields[5:8])
    return busy / _TICK, fields[4] / _TICK


@dataclass
class Watched:
    """One process (with its descendants for CPU and I/O) and what was seen of it."""

    name: str
    pid: int
    rss_start: int = 0
    rss_warm: int = 0
    rss_end: int = 0
    rss_max: int = 0
    #: (seconds since the soak began, RSS KiB) every few seconds: a point sample can catch
    #: a transient (a detect worker's checkpoint pickles megabytes at a time)
    rss_series: list[tuple[float, int]] = field(default_factory=list)
    #: (seconds since the soak began, CPU seconds so far), sampled with the RSS: whether
    #: a process's cost per second changes over a long run
    cpu_series: list[tuple[float, float]] = field(default_factory=list)
    cpu0: float = 0.0
    cpu1: float = 0.0
    io0: tuple[int, int] = (0, 0)
    io1: tuple[int, int] = (0, 0)

    def begin(self) -> None:
        self.cpu0 = cpu_s(self.pid)
        self.io0 = io_bytes(self.pid)
        self.rss_start = self.sample()

    def sample(self) -> int:
        rss = rss_kib(self.pid)
        self.rss_max = max(self.rss_max, rss)
        return rss

    def end(self) -> None:
        self.cpu1 = cpu_s(self.pid)
        self.io1 = io_bytes(self.pid)
        self.rss_end = self.sample()
        if not self.rss_warm:
            self.rss_warm = self.rss_end

    def rss_median(self, since: float, until: float) -> int:
        """The median RSS sampled in [``since``, ``until``] s (the nearest sample if none)."""
        inside = sorted(r for t, r in self.rss_series if since <= t <= until)
        if not inside:
            if not self.rss_series:
                return self.rss_end
            return min(self.rss_series, key=lambda s: abs(s[0] - since))[1]
        return inside[len(inside) // 2]

    @property
    def cpu(self) -> float:
        return self.cpu1 - self.cpu0

    @property
    def written(self) -> int:
        return self.io1[1] - self.io0[1]
