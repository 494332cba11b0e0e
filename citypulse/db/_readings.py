"""The readings tables by device kind, and counting what they hold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import scalar_row

from citypulse._records import DeviceKind

#: the raw readings table of each device kind (same names in both schema modes)
READING_TABLES: Mapping[DeviceKind, str] = {k: f"{k.value}_readings" for k in DeviceKind}


def count_readings(conn: psycopg.Connection[Any]) -> dict[DeviceKind, int]:
    """How many readings each kind's table holds."""
    counts: dict[DeviceKind, int] = {}
    for kind, table in READING_TABLES.items():
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        found = conn.cursor(row_factory=scalar_row).execute(query).fetchone()
        counts[kind] = int(found) if found is not None else 0
    return counts
