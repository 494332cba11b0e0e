"""Per-device rate limit at ingest: a token bucket per device, in readings per second.

A device that floods (a broken firmware loop, a hostile client with a device's
credentials) must not crowd out the rest of the city: what exceeds its bucket becomes a
``rate_limited`` dead letter, acknowledged like any other, and other devices' buckets are
untouched.  A message costs one token per reading (at least one), so a gateway batch is
admitted or limited as a whole.  Each worker keeps its own buckets: with N workers on a
shared subscription a device's messages are spread over them, so its effective limit is
up to N times the configured one.
"""

from __future__ import annotations

from typing import Final

from ingest._decode import Decoded, Rejection

_MAX_DEVICES: Final = 200_000  # beyond this many buckets, start afresh (bounded memory)


class RateLimiter:
    """``rate`` readings/s per device, with up to ``burst`` readings saved up."""

    __slots__ = ("_buckets", "burst", "rate")

    def __init__(self, *, rate: float, burst: float) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        if not burst >= 1:
            raise ValueError("burst must be at least one reading")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # device -> (tokens, at)

    def admit(self, device_id: str, cost: int, now: float) -> bool:
        """Take ``cost`` tokens from the device's bucket at monotonic ``now``, if it has them."""
        bucket = self._buckets.get(device_id)
        if bucket is None:
            if len(self._buckets) >= _MAX_DEVICES:
                self._buckets.clear()
            tokens = self.burst
        else:
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        admitted = tokens >= cost
        if admitted:
            tokens -= cost
        self._buckets[device_id] = (tokens, now)
        return admitted

    def check(self, decoded: Decoded, now: float) -> Decoded:
        """``decoded`` itself if admitted, else a ``rate_limited`` rejection of the message."""
        topic = decoded.topic
        if topic is None:
            return decoded
        cost = len(decoded.rows) or 1  # decoded.weight
        # admit(), inline for the common case: a known device with the tokens to pay
        bucket = self._buckets.get(topic.device_id)
        if bucket is not None:
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            if tokens >= cost:
                self._buckets[topic.device_id] = (tokens - cost, now)
                return decoded
        if self.admit(topic.device_id, cost, now):
            return decoded
        detail = (
            f"device {topic.device_id} exceeded {self.rate:g} readings/s "
            f"(burst {self.burst:g}); {cost} reading(s) not stored"
        )
        return Decoded(topic, (), (Rejection("rate_limited", detail),))
