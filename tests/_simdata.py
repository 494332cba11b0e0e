"""Fill a test database with a simulated city through ingest's decoder and sink, no MQTT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citypulse.db import connect, upsert_devices
from ingest import Decoder, Item, PostgresSink
from simulator import Simulation


def store_simulation(db_url: str, sim: Simulation, *, batch_size: int = 5000) -> int:
    """Register ``sim``'s devices and store all its messages as received 1 s after their
    time; return how many readings were stored."""
    with connect(db_url) as conn:
        upsert_devices(conn, sim.devices)
        conn.commit()
    decoder = Decoder(root=sim.topic_root)
    stored = 0
    batch: list[Item] = []
    with PostgresSink(database_url=db_url, worker_id="test-loader") as sink:
        for mid, m in enumerate(sim.messages()):
            received = datetime.fromtimestamp(m.t, UTC) + timedelta(seconds=1)
            decoded = decoder.decode(m.topic, m.payload, received)
            batch.append(Item(mid, 1, m.topic, m.payload, received, decoded))
            if len(batch) >= batch_size:
                stored += sink.store(batch).stored
                batch = []
        if batch:
            stored += sink.store(batch).stored
    return stored
