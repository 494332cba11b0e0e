"""What a field device publishes (:class:`Message`), and a gateway's batching of it.

Both the generator and the publishers speak in messages; :func:`batched` regroups a
stream of them the way a gateway (or a device buffering its readings) would send it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

WILL_PAYLOAD = b'{"online":false,"reason":"last_will"}'


def gateway_will(t: float) -> bytes:
    """What a gateway publishes for a device it lost at ``t`` (epoch s): the will's
    offline status, stamped with that time as the wire contract allows.  Unstamped,
    ingest would stamp it on receipt, which for a simulation of the past (a demo, an
    evaluation, a soak behind schedule) is hours after the device went dark, and later
    than the device's return: it would stay offline."""
    when = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
    return orjson.dumps({"online": False, "reason": "last_will", "time": when})


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT publication: at simulated time ``t`` (epoch s), ``payload`` on ``topic``.

    ``last_will`` marks the device's will firing (power loss): a publisher holding one
    connection per device drops that connection uncleanly instead of sending it, and the
    broker publishes the identical will; a gateway publishes the same status stamped
    with ``t`` (:func:`gateway_will`).
    """

    t: float
    topic: str
    payload: bytes
    retain: bool
    device_id: str
    last_will: bool = False
    valid: bool = True  # False for payloads corrupted on purpose (malformed, wrong units)
    reports: int = 1  # how many of the device's reports it carries: > 1 for a batch

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


_MAX_BATCH_BYTES = 200 * 1024  # the contract allows 256 KiB per message


def batched(
    messages: Iterable[Message],
    window_s: float | Mapping[str, float],
    *,
    until: float | None = None,
) -> Iterator[Message]:
    """Group each device's readings per window into one JSON-array message.

    What a gateway (or a device buffering its readings) sends: one publication per device
    and window, at the window's end, holding the readings with their own times.  Status
    messages and deliberately corrupted payloads pass through alone, in order.
    ``window_s`` is one window for every device, or each device's by id (a device not
    named, or given 0, sends every report alone).  With ``until`` (the run's end, epoch s)
    what is still held when the stream ends goes out then, as a gateway stopped with the
    run would send it, not at its window's end after the run.
    """
    if not isinstance(window_s, Mapping) and window_s <= 0:
        yield from messages
        return
    windows, every = (window_s, 0.0) if isinstance(window_s, Mapping) else (None, window_s)
    pending: dict[str, list[Message]] = {}
    sizes: dict[str, int] = {}
    due: list[tuple[float, int, str]] = []  # a heap: windows may differ between devices
    seq = 0

    def flush(device_id: str, at: float) -> Message:
        group = pending.pop(device_id)
        sizes.pop(device_id, None)
        if len(group) == 1:
            m = group[0]
            return Message(at, m.topic, m.payload, m.retain, device_id)
        parts = [m.payload[1:-1] if m.payload[:1] == b"[" else m.payload for m in group]
        body = b"[" + b",".join(parts) + b"]"
        return Message(at, group[0].topic, body, False, device_id, reports=len(group))

    for m in messages:
        while due and due[0][0] <= m.t:
            at, _, device_id = heapq.heappop(due)
            if device_id in pending:
                yield flush(device_id, at)
        window = every if windows is None else windows.get(m.device_id, 0.0)
        if m.retain or not m.valid or window <= 0:
            if m.device_id in pending:
                yield flush(m.device_id, m.t)
            yield m
            continue
        group = pending.get(m.device_id)
        if group is None:
            pending[m.device_id] = [m]
            sizes[m.device_id] = len(m.payload)
            seq += 1
            heapq.heappush(due, ((m.t // window + 1) * window, seq, m.device_id))
            continue
        group.append(m)
        sizes[m.device_id] += len(m.payload) + 1
        if sizes[m.device_id] > _MAX_BATCH_BYTES:
            yield flush(m.device_id, m.t)
    last = math.inf if until is None else until
    while due:
        at, _, device_id = heapq.heappop(due)
        if device_id in pending:
            yield flush(device_id, min(at, last))
