"""What a field device publishes (:class:`Message`), and a gateway's batching of it.

Both the generator and the publishers speak in messages; :func:`batched` regroups a
stream of them the way a gateway (or a device buffering its readings) would send it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

WILL_PAYLOAD = b'{"online":false,"reason":"last_will"}'


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT publication: at simulated time ``t`` (epoch s), ``payload`` on ``topic``.

    ``last_will`` marks the device's will firing (power loss): a publisher holding one
    connection per device drops that connection uncleanly instead of sending it, and the
    broker publishes the identical will; a gateway publishes it as it is.
    """

    t: float
    topic: str
    payload: bytes
    retain: bool
    device_id: str
    last_will: bool = False
    valid: bool = True  # False for payloads corrupted on purpose (malformed, wrong units)

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


_MAX_BATCH_BYTES = 200 * 1024  # the contract allows 256 KiB per message


def batched(messages: Iterable[Message], window_s: float) -> Iterator[Message]:
    """Group each device's readings per ``window_s`` window into one JSON-array message.

    What a gateway (or a device buffering its readings) sends: one publication per device
    and window, at the window's end, holding the readings with their own times.  Status
    messages and deliberately corrupted payloads pass through alone, in order.
    """
    if window_s <= 0:
        yield from messages
        return
    pending: dict[str, list[Message]] = {}
    sizes: dict[str, int] = {}
    due: deque[tuple[float, str]] = deque()

    def flush(device_id: str, at: float) -> Message:
        group = pending.pop(device_id)
        sizes.pop(device_id, None)
        if len(group) == 1:
            m = group[0]
            return Message(at, m.topic, m.payload, m.retain, device_id)
        parts = [m.payload[1:-1] if m.payload[:1] == b"[" else m.payload for m in group]
        return Message(at, group[0].topic, b"[" + b",".join(parts) + b"]", False, device_id)

    for m in messages:
        while due and due[0][0] <= m.t:
            at, device_id = due.popleft()
            if device_id in pending:
                yield flush(device_id, at)
        if m.retain or not m.valid:
            if m.device_id in pending:
                yield flush(m.device_id, m.t)
            yield m
            continue
        group = pending.get(m.device_id)
        if group is None:
            pending[m.device_id] = [m]
            sizes[m.device_id] = len(m.payload)
            due.append(((m.t // window_s + 1) * window_s, m.device_id))
            continue
        group.append(m)
        sizes[m.device_id] += len(m.payload) + 1
        if sizes[m.device_id] > _MAX_BATCH_BYTES:
            yield flush(m.device_id, m.t)
    while due:
        at, device_id = due.popleft()
        if device_id in pending:
            yield flush(device_id, at)
