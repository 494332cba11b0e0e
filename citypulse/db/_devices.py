"""The device registry: register (upsert) and load devices."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from citypulse._records import Device, DeviceKind

_UPSERT = """
INSERT INTO devices (id, kind, name, district, address, lat, lon, intersection,
                     report_interval, attributes)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    kind = EXCLUDED.kind, name = EXCLUDED.name, district = EXCLUDED.district,
    address = EXCLUDED.address, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
    intersection = EXCLUDED.intersection, report_interval = EXCLUDED.report_interval,
    attributes = EXCLUDED.attributes
"""
# Columns named as Device's fields, so load_devices reads them by those names.
_SELECT = """
SELECT id, kind, name, district, address, lat, lon, intersection,
       report_interval AS report_interval_s, attributes
FROM devices
"""


def upsert_devices(conn: psycopg.Connection[Any], devices: Iterable[Device]) -> int:
    """Register or update ``devices`` (in the caller's transaction); return how many."""
    rows = [
        (
            d.id,
            d.kind.value,
            d.name,
            d.district,
            d.address,
            d.lat,
            d.lon,
            d.intersection,
            d.report_interval_s,
            Jsonb(dict(d.attributes)),
        )
        for d in devices
    ]
    with conn.cursor() as cur:
        cur.executemany(_UPSERT, rows)
    return len(rows)


def load_devices(conn: psycopg.Connection[Any]) -> dict[str, Device]:
    """Every registered device by id."""
    devices: dict[str, Device] = {}
    for row in conn.cursor(row_factory=dict_row).execute(_SELECT):
        row["kind"] = DeviceKind(row["kind"])
        row["report_interval_s"] = float(row["report_interval_s"])
        row["attributes"] = row["attributes"] or {}
        devices[row["id"]] = Device(**row)
    return devices
