"""Opening connections with the settings every citypulse connection shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from citypulse._errors import DatabaseError, DatabaseUnavailable
from citypulse._settings import mask_url
from citypulse.db._transient import is_transient


def connect(
    url: str,
    *,
    application_name: str = "citypulse",
    autocommit: bool = False,
    connect_timeout: float = 10.0,
) -> psycopg.Connection[TupleRow]:
    """Open a connection, or raise with the URL masked: :class:`DatabaseUnavailable` when
    the server cannot be reached now (retry later), :class:`DatabaseError` when retrying
    cannot help (a malformed URL, a bad option, a failed login, no such database)."""
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=max(1, round(connect_timeout)),
        )
    except psycopg.Error as exc:
        masked = mask_url(url)
        message = f"cannot connect to {masked}: {str(exc).replace(url, masked)}"
        if is_transient(exc):
            raise DatabaseUnavailable(message) from exc
        raise DatabaseError(message) from exc


def scalar(conn: psycopg.Connection[Any], query: str, params: Sequence[object] = ()) -> Any:
    """The first column of the first row of ``query`` (raises if there is no row)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise DatabaseError(f"query returned no row: {query.split()[0]} ...")
    return row[0]
