"""The autocommit connection a worker's background thread keeps beside the batches."""

from __future__ import annotations

from typing import Any

import psycopg

from citypulse.db import connect


class SideConnection:
    """Opened on first use, and again after it was closed or broke; ``close`` drops it.

    Heartbeats, takeovers and counters each hold one: short statements that must not wait
    behind a batch's transaction, nor fail for long when the server is away
    (``connect_timeout`` 5 s).
    """

    def __init__(self, database_url: str, application_name: str) -> None:
        self._url = database_url
        self._name = application_name
        self._conn: psycopg.Connection[Any] | None = None

    def get(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(
                self._url, application_name=self._name, autocommit=True, connect_timeout=5
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
