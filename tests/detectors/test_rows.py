"""The worker's source queries against a real PostgreSQL: records and SELECTs agree."""

from __future__ import annotations

from citypulse.db import connect
from detectors._rows import LIVE, REPLAY


def test_every_source_query_selects_its_records_fields_by_name(db_url: str) -> None:
    params = {
        "since": 0.0,
        "upto": 0.0,
        "oldest": 0.0,
        "partitions": 1,
        "held": [0],
        "limit": 1,
        "start": 0.0,
        "end": 0.0,
    }
    with connect(db_url) as conn:
        for source in (*LIVE, *REPLAY):
            cur = conn.execute(source.query, params)
            assert cur.description is not None
            assert tuple(c.name for c in cur.description) == source.record._fields
