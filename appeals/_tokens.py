"""Open311 tokens: what ``POST requests`` gives beside the new request's id, and what
``GET tokens/{token}`` turns back into that id.

GeoReport v2 lets a server answer a post with a token when the request's id is not known
yet.  Ours is known at once (the report is queued in the post's transaction), so the
answer carries both; the token is real all the same, one per report, kept with it, so a
client written for servers that queue later finds its request by it.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import psycopg
from psycopg.rows import scalar_row

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A new token, or the one the report already has (a retried post, say).
_ISSUE = """
WITH new AS (
    INSERT INTO service_request_tokens (token, appeal_id) VALUES (%(token)s, %(appeal)s)
    ON CONFLICT (appeal_id) DO NOTHING
    RETURNING token
)
SELECT token FROM new
UNION ALL
SELECT token FROM service_request_tokens WHERE appeal_id = %(appeal)s
LIMIT 1
"""
_FIND = "SELECT appeal_id FROM service_request_tokens WHERE token = %s"


def issue_token(conn: psycopg.Connection[Any], appeal_id: int) -> str:
    """The report's token, made on its first post (in the caller's transaction)."""
    params = {"token": secrets.token_urlsafe(16), "appeal": appeal_id}
    token = conn.cursor(row_factory=scalar_row).execute(_ISSUE, params).fetchone()
    if token is None:  # pragma: no cover - one of the two selects has a row
        raise LookupError(f"no token for appeal {appeal_id}")
    return str(token)


def find_token(conn: psycopg.Connection[Any], token: str) -> int | None:
    """The service request ``token`` was given for, if any."""
    found = conn.cursor(row_factory=scalar_row).execute(_FIND, (token,)).fetchone()
    return int(found) if found is not None else None
