"""Ingest workers watch each other, so that no acknowledged reading waits on one's return.

Mosquitto deals a shared subscription's messages round-robin to every member's session,
also to a member that is gone: its share stays queued in its persistent session until
that client id connects again, and is dropped at ``persistent_client_expiration``.  So
each worker writes a heartbeat to ``ingest_sessions`` every ``interval`` seconds, and a
worker that finds a peer of its share group silent for longer than ``takeover_after``
claims the peer's row (one UPDATE: a session is claimed by one survivor only) and hands
it to ``drain`` (connect as the peer, unsubscribe, store what comes, end the session).

A heartbeat older than ``takeover_after`` proves a peer dead only if this worker could
write its own heartbeats over that whole time: after a database outage every heartbeat is
old, the peers' included.  Times are the database's, one clock for every worker.

:meth:`Peers.leave` is scaling down: it marks this worker as leaving only while another
member of its group is alive (under a lock on the group, so that two workers stopped at
once never both leave and leave the subscription with no member, whose messages the
broker would drop).  A member is alive only while it runs: a worker that stops and keeps
its session (the last member) marks its row as no longer receiving (``leaving``, set back
by its next heartbeat) — its last heartbeat is seconds old, but a peer that left the
group on its word would drop what comes until it returns.  A group is the broker's: the
share name with the topic root (:attr:`IngestConfig.group_key`); a worker of the same
name on another root receives none of this worker's messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

import psycopg

from citypulse import CitypulseError
from citypulse.db import connect, is_transient
from ingest._side import SideConnection

log = logging.getLogger(__name__)

Drain = Callable[[str, str, threading.Event], bool]  # peer's client id, login, stop -> done

_BEAT = """
INSERT INTO ingest_sessions (client_id, login, worker, share_group, seen_at)
VALUES (%(client_id)s, %(login)s, %(worker)s, %(group)s, now())
ON CONFLICT (client_id) DO UPDATE SET login = excluded.login, worker = excluded.worker,
    share_group = excluded.share_group, seen_at = now(), leaving = false,
    claimed_by = NULL, claimed_at = NULL
RETURNING now()
"""
# A claim lasts as long as a takeover may: a survivor that died mid-drain frees it.
_CLAIM = """
UPDATE ingest_sessions SET claimed_by = %(client_id)s, claimed_at = now()
WHERE client_id = (
    SELECT client_id FROM ingest_sessions
    WHERE share_group = %(group)s AND client_id <> %(client_id)s
      AND seen_at < now() - make_interval(secs => %(after)s)
      AND %(alive_since)s < now() - make_interval(secs => %(after)s)
      AND (claimed_by IS NULL OR claimed_at < now() - make_interval(secs => %(lease)s))
    ORDER BY seen_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING client_id, login, seen_at
"""
_ENDED = "DELETE FROM ingest_sessions WHERE client_id = %s AND claimed_by = %s"
_UNCLAIM = "UPDATE ingest_sessions SET claimed_by = NULL WHERE client_id = %s AND claimed_by = %s"
_LOCK_GROUP = "SELECT pg_advisory_xact_lock(hashtext('citypulse ingest ' || %s))"
_LEAVE = """
UPDATE ingest_sessions SET leaving = true, seen_at = now()
WHERE client_id = %(client_id)s AND EXISTS (
    SELECT FROM ingest_sessions
    WHERE share_group = %(group)s AND client_id <> %(client_id)s AND NOT leaving
      AND seen_at > now() - make_interval(secs => %(live)s)
)
RETURNING client_id
"""
_GONE = "DELETE FROM ingest_sessions WHERE client_id = %s"
# Stopped, its session kept: no longer a member that receives (its row stays for a takeover)
_STOPPED = "UPDATE ingest_sessions SET leaving = true WHERE client_id = %s"


class Peers:
    """The heartbeat and takeover thread of one worker; ``start()``, then ``close()``."""

    def __init__(
        self,
        *,
        database_url: str,
        client_id: str,
        login: str,
        worker_id: str,
        share_group: str,
        interval: float,
        takeover_after: float,
        drain: Drain,
    ) -> None:
        if not 0 < interval < takeover_after:
            raise ValueError("the heartbeat interval must be positive and below takeover_after")
        self._url = database_url
        self._me = {
            "client_id": client_id,
            "login": login,
            "worker": worker_id,
            "group": share_group,
        }
        self._interval = interval
        self._after = takeover_after
        self._drain = drain
        self._db = SideConnection(database_url, f"citypulse-ingest-peers {worker_id}")
        self._alive_since: datetime | None = None  # first heartbeat of an unbroken run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-peers", daemon=True)
        self.takeovers = 0

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop heartbeats and any takeover under way (it keeps the peer's session)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        self._db.close()

    def leave(self) -> bool:
        """Mark this worker as leaving if another member of its group is alive (running:
        its heartbeat fresh within two intervals, not stopped nor leaving).  False: the
        last member, or the database is away; then the session must stay, subscribed, for
        this worker's return."""
        params = {**self._me, "live": 2 * self._interval}
        try:
            with connect(self._url, connect_timeout=5) as conn, conn.transaction():
                conn.execute(_LOCK_GROUP, (self._me["group"],))
                return conn.execute(_LEAVE, params).fetchone() is not None
        except (psycopg.Error, CitypulseError) as exc:
            log.warning("cannot tell whether another ingest worker is alive: %s", exc)
            return False

    def gone(self) -> None:
        """This worker's session has ended: forget its heartbeat."""
        self._mark(_GONE, "remove")

    def stopped(self) -> None:
        """This worker stopped and keeps its session for its return: it is no live peer
        (a worker stopping now must not leave the group on its word)."""
        self._mark(_STOPPED, "mark as stopped")

    def _mark(self, sql: str, what: str) -> None:
        try:
            with connect(self._url, connect_timeout=5) as conn:
                conn.execute(sql, (self._me["client_id"],))
        except (psycopg.Error, CitypulseError) as exc:
            log.warning("cannot %s ingest session %s: %s", what, self._me["client_id"], exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._beat()
                claimed = self._claim()
            except (psycopg.Error, CitypulseError) as exc:
                self._alive_since = None
                self._db.close()
                level = logging.DEBUG if is_transient(exc) else logging.ERROR
                log.log(level, "ingest heartbeat failed: %s", exc)
                claimed = None
            except Exception:  # the top of this thread's loop: keep beating
                log.exception("ingest heartbeat failed")
                self._alive_since = None
                self._db.close()
                claimed = None
            if claimed is not None:
                self._take_over(*claimed)
            self._stop.wait(self._interval)

    def _beat(self) -> None:
        row = self._db.get().execute(_BEAT, self._me).fetchone()
        assert row is not None
        if self._alive_since is None:
            self._alive_since = row[0]

    def _claim(self) -> tuple[str, str, datetime] | None:
        params = {
            **self._me,
            "after": self._after,
            "alive_since": self._alive_since,
            "lease": max(600.0, 10 * self._after),
        }
        row = self._db.get().execute(_CLAIM, params).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def _take_over(self, peer: str, login: str, seen_at: datetime) -> None:
        log.warning(
            "ingest worker %s silent since %s (database time): draining its MQTT session "
            "into the database and ending it",
            peer,
            seen_at.isoformat(timespec="seconds"),
        )
        done = False
        try:
            done = self._drain(peer, login, self._stop)
        except Exception:
            log.exception("draining the session of %s failed", peer)
        me = self._me["client_id"]
        try:
            self._db.get().execute(_ENDED if done else _UNCLAIM, (peer, me))
        except (psycopg.Error, CitypulseError) as exc:
            self._db.close()
            log.warning("cannot record the takeover of %s: %s", peer, exc)
        if done:
            self.takeovers += 1
            log.warning("the MQTT session of %s is drained and ended", peer)
        else:
            log.warning("the MQTT session of %s is kept for a later takeover", peer)
