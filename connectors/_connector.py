"""The one small interface a delivery target implements, and what it returns.

A connector turns an :class:`OutboxEntry` into one or more HTTP calls on the worker's
client and either returns a :class:`DeliveryResult` or raises
:class:`TransientDeliveryError` / :class:`PermanentDeliveryError` (``connectors._http.send``
does the classification).  A connector whose remote keeps a status of its own also
implements :class:`StatusSource`; the worker then polls it for delivered appeals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import httpx
import psycopg

from connectors._outbox import OutboxEntry


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A delivery the remote accepted: its HTTP status and its id for the appeal, if any."""

    status: int | None
    remote_id: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteStatus:
    """What the remote system says about a delivered appeal now."""

    remote_id: str  # may differ from the stored one (an Open311 token resolved to an id)
    status: str  # Open311: open | closed; empty while the remote has not assigned an id yet
    notes: str = ""
    agency: str = ""
    updated_at: datetime | None = None


class Connector(Protocol):
    """A delivery target; ``name`` is what ``outbox.connector`` and the settings call it."""

    @property
    def name(self) -> str: ...

    def deliver(self, client: httpx.Client, entry: OutboxEntry) -> DeliveryResult:
        """Deliver ``entry`` once; raise a typed DeliveryError when it did not go through."""
        ...


@runtime_checkable
class StatusSource(Protocol):
    """A connector whose remote tracks the appeal's status (Open311 ``GET requests/{id}``)."""

    def sync_status(self, client: httpx.Client, remote_id: str) -> RemoteStatus:
        """The remote's current status for ``remote_id``; raises a DeliveryError on failure."""
        ...


class RemoteStatusHandler(Protocol):
    """Records a remote status change on the appeal, inside the caller's transaction."""

    def __call__(
        self,
        conn: psycopg.Connection[Any],
        *,
        appeal_id: int,
        connector: str,
        previous: str | None,
        current: RemoteStatus,
    ) -> None: ...
