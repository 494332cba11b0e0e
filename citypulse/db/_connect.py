"""Opening connections with the settings every citypulse connection shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from citypulse._errors import DatabaseError
from citypulse._settings import mask_url


def connect(
    url: str,
    *,
    application_name: str = "citypulse",
    autocommit: bool = False,
    connect_timeout: float = 10.0,
) -> psycopg.Connection[TupleRow]:
    """Open a connection; a failure raises :class:`DatabaseError` with the URL masked."""
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=max(1, round(connect_timeout)),
        )
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect to {mask_url(url)}: {exc}") from exc


def scalar(conn: psycopg.Connection[Any], query: str, params: Sequence[object] = ()) -> Any:
    """The first column of the first row of ``query`` (raises if there is no row)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise DatabaseError(f"query returned no row: {query.split()[0]} ...")
    return row[0]
