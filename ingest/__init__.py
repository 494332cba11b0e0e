"""Ingest: MQTT telemetry into PostgreSQL/TimescaleDB, with nothing lost.

A message is acknowledged to the broker only after the transaction holding its readings
(or its dead letter) has committed; writes are idempotent, so redeliveries never
duplicate rows.  Bad input is kept in ``dead_letters`` with the reason, never fatal.
"""

from typing import TYPE_CHECKING

from citypulse import lazy_exports

if TYPE_CHECKING:
    from ingest._config import IngestConfig
    from ingest._decode import MAX_PAYLOAD_BYTES, Decoded, Decoder, Rejection, TopicInfo
    from ingest._errors import IngestError, PermanentStoreError, TransientStoreError
    from ingest._limit import RateLimiter
    from ingest._sink import Item, PostgresSink, StoreResult
    from ingest._worker import IngestWorker
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "Decoded",
    "Decoder",
    "IngestConfig",
    "IngestError",
    "IngestWorker",
    "Item",
    "PermanentStoreError",
    "PostgresSink",
    "RateLimiter",
    "Rejection",
    "StoreResult",
    "TopicInfo",
    "TransientStoreError",
]
