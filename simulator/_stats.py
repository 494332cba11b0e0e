"""What a run offers, counted from the generator's schedule: no broker, no wall clock.

A reading is what ingest stores as one row: one object of a payload (a camera's report
holds one per lane).  A batch is a message carrying more than one of a device's reports
(see :func:`~simulator._message.batched`).  Rates are per simulated second, so they are
what a run at speed 1 offers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson

from citypulse import Device, DeviceKind
from simulator._message import Message


@dataclass(frozen=True, slots=True)
class ScheduleStats:
    """Counts over a simulated window of ``span_s`` seconds."""

    span_s: float
    messages: int  # every publication, status included
    telemetry: int  # publications on telemetry topics
    batches: int  # telemetry messages carrying more than one report
    readings: int  # reading objects in valid telemetry
    invalid: int  # payloads corrupted on purpose (faults), not counted as readings
    readings_by_kind: Mapping[DeviceKind, int]
    messages_by_kind: Mapping[DeviceKind, int]

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.span_s

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.span_s

    @property
    def batch_share(self) -> float:
        """Batches as a share of all messages."""
        return self.batches / self.messages if self.messages else 0.0


def schedule_stats(
    messages: Iterable[Message], devices: Iterable[Device], *, span_s: float
) -> ScheduleStats:
    """Count ``messages`` (a run's, batched as published) of ``devices`` over ``span_s``."""
    if span_s <= 0:
        raise ValueError("span_s must be positive")
    kinds = {d.id: d.kind for d in devices}
    total = telemetry = batches = readings = invalid = 0
    by_kind: Counter[DeviceKind] = Counter()
    msgs_by_kind: Counter[DeviceKind] = Counter()
    loads = orjson.loads
    for m in messages:
        total += 1
        kind = kinds[m.device_id]
        msgs_by_kind[kind] += 1
        if m.retain or m.last_will:
            continue
        telemetry += 1
        if m.reports > 1:
            batches += 1
        if not m.valid:
            invalid += 1
            continue
        body = loads(m.payload)
        n = len(body) if isinstance(body, list) else 1
        readings += n
        by_kind[kind] += n
    return ScheduleStats(
        span_s=span_s,
        messages=total,
        telemetry=telemetry,
        batches=batches,
        readings=readings,
        invalid=invalid,
        readings_by_kind=dict(by_kind),
        messages_by_kind=dict(msgs_by_kind),
    )


def device_counts(devices: Iterable[Device]) -> tuple[dict[DeviceKind, int], dict[str, int]]:
    """How many devices of each kind, and in each district."""
    by_kind: Counter[DeviceKind] = Counter()
    by_district: Counter[str] = Counter()
    for d in devices:
        by_kind[d.kind] += 1
        by_district[d.district or ""] += 1
    return dict(by_kind), dict(by_district)
