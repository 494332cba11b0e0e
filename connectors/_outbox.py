"""The outbox table as the delivery worker sees it: claim, record, expire, sync.

Claims are leases: a worker takes due entries with ``FOR UPDATE SKIP LOCKED``, bumps
``attempts``, moves ``next_attempt_at`` past the time a delivery can take and commits at
once, so no transaction stays open across an HTTP call and several workers never take
the same entry.  A worker that dies mid-delivery loses its lease when that time passes,
and the entry is delivered again (at least once; receivers dedupe on the idempotency key).

Per appeal and connector, entries go out in id order: an entry is not due while an
earlier one is pending, and is failed when an earlier one failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One claimed delivery: an appeal event for one connector."""

    id: int
    appeal_id: int
    connector: str
    event: str  # created | updated
    idempotency_key: str
    payload: Mapping[str, Any]  # the appeal as an Open311 service request, plus extras
    attempt: int  # 1 for the first attempt
    created_at: datetime
    deliver_by: datetime
    remote_id: str | None = None  # of this entry, or of the appeal's delivered 'created'
    failed_predecessor: int | None = None


@dataclass(frozen=True, slots=True)
class Expired:
    """An entry failed because its deadline passed."""

    id: int
    appeal_id: int
    connector: str
    error: str


@dataclass(frozen=True, slots=True)
class Delivered:
    """An entry delivered earlier that carries a remote id (for status sync)."""

    id: int
    appeal_id: int
    connector: str
    remote_id: str
    remote_status: str | None


EXPIRE = """
WITH gone AS (
    SELECT id FROM outbox
    WHERE delivered_at IS NULL AND failed_at IS NULL
      AND deliver_by <= now() AND next_attempt_at <= now()
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox o
SET failed_at = now(), claimed_by = NULL,
    last_error = 'deadline passed after ' || o.attempts || ' attempt(s)'
                 || CASE WHEN o.last_error = '' THEN '' ELSE ': ' || o.last_error END
FROM gone WHERE o.id = gone.id
RETURNING o.id, o.appeal_id, o.connector, o.last_error AS error
"""

CLAIM = """
WITH due AS (
    SELECT o.id FROM outbox o
    WHERE o.delivered_at IS NULL AND o.failed_at IS NULL
      AND o.next_attempt_at <= now() AND o.deliver_by > now()
      AND o.connector = ANY(%(connectors)s)
      AND NOT EXISTS (
          SELECT 1 FROM outbox p
          WHERE p.appeal_id = o.appeal_id AND p.connector = o.connector AND p.id < o.id
            AND p.delivered_at IS NULL AND p.failed_at IS NULL)
    ORDER BY o.next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox o
SET attempts = o.attempts + 1, claimed_by = %(worker)s,
    next_attempt_at = now() + make_interval(secs => %(lease)s)
FROM due WHERE o.id = due.id
RETURNING o.id, o.appeal_id, o.connector, o.event, o.idempotency_key, o.payload,
    o.attempts AS attempt, o.created_at, o.deliver_by,
    coalesce(o.remote_id, (
        SELECT p.remote_id FROM outbox p
        WHERE p.appeal_id = o.appeal_id AND p.connector = o.connector AND p.id < o.id
          AND p.remote_id IS NOT NULL
        ORDER BY p.id DESC LIMIT 1)) AS remote_id,
    (SELECT min(p.id) FROM outbox p
     WHERE p.appeal_id = o.appeal_id AND p.connector = o.connector AND p.id < o.id
       AND p.failed_at IS NOT NULL) AS failed_predecessor
"""

# Delivered wins over a deadline that passed while the call was in flight: it did arrive.
DELIVERED = """
UPDATE outbox
SET delivered_at = now(), failed_at = NULL, claimed_by = NULL, last_status = %(status)s,
    last_error = '', remote_id = coalesce(%(remote_id)s, remote_id)
WHERE id = %(id)s AND delivered_at IS NULL
"""

# A retry that could not happen before the deadline fails now rather than later.
RETRY = """
UPDATE outbox
SET claimed_by = NULL, last_status = %(status)s,
    last_error = CASE WHEN now() + make_interval(secs => %(delay)s) < deliver_by
                      THEN %(error)s
                      ELSE 'deadline passed after ' || attempts || ' attempt(s): ' || %(error)s
                 END,
    next_attempt_at = CASE WHEN now() + make_interval(secs => %(delay)s) < deliver_by
                           THEN now() + make_interval(secs => %(delay)s)
                           ELSE next_attempt_at END,
    failed_at = CASE WHEN now() + make_interval(secs => %(delay)s) < deliver_by
                     THEN NULL ELSE now() END
WHERE id = %(id)s AND attempts = %(attempt)s AND delivered_at IS NULL AND failed_at IS NULL
RETURNING failed_at IS NOT NULL AS failed
"""

FAILED = """
UPDATE outbox
SET failed_at = now(), claimed_by = NULL, last_status = %(status)s, last_error = %(error)s
WHERE id = %(id)s AND delivered_at IS NULL AND failed_at IS NULL
"""

# Status checks are leased like deliveries: remote_checked_at is set before the HTTP call.
TO_SYNC = """
WITH due AS (
    SELECT o.id FROM outbox o
    JOIN appeals a ON a.id = o.appeal_id
    WHERE o.connector = %(connector)s AND o.event = 'created'
      AND o.delivered_at IS NOT NULL AND o.remote_id IS NOT NULL
      AND a.status NOT IN ('closed', 'rejected')
      AND (o.remote_checked_at IS NULL
           OR o.remote_checked_at <= now() - make_interval(secs => %(interval)s))
    ORDER BY o.remote_checked_at NULLS FIRST, o.id
    LIMIT %(limit)s
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox o SET remote_checked_at = now()
FROM due WHERE o.id = due.id
RETURNING o.id, o.appeal_id, o.connector, o.remote_id, o.remote_status
"""

SYNCED = """
UPDATE outbox
SET remote_status = %(status)s, remote_status_notes = %(notes)s,
    remote_id = %(remote_id)s
WHERE id = %(id)s
"""


def claim(
    conn: psycopg.Connection[Any],
    *,
    connectors: Sequence[str],
    worker: str,
    limit: int,
    lease: float,
) -> list[OutboxEntry]:
    """Take up to ``limit`` due entries for ``connectors``; commits the claim."""
    with conn.transaction():
        entries = conn.cursor(row_factory=class_row(OutboxEntry)).execute(
            CLAIM,
            {"connectors": list(connectors), "worker": worker, "limit": limit, "lease": lease},
        )
        return sorted(entries.fetchall(), key=lambda e: e.id)


def expire(conn: psycopg.Connection[Any], *, limit: int = 1000) -> list[Expired]:
    """Fail pending entries whose deadline passed; returns them."""
    with conn.transaction():
        expired = conn.cursor(row_factory=class_row(Expired))
        return expired.execute(EXPIRE, {"limit": limit}).fetchall()


def due_for_sync(
    conn: psycopg.Connection[Any], *, connector: str, interval: float, limit: int
) -> list[Delivered]:
    """Lease up to ``limit`` delivered entries whose remote status is due for a check."""
    with conn.transaction():
        delivered = conn.cursor(row_factory=class_row(Delivered))
        params = {"connector": connector, "interval": interval, "limit": limit}
        return delivered.execute(TO_SYNC, params).fetchall()
