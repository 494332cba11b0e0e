"""Stage contracts that cross packages.

The detect worker (``detectors``) records incidents; the appeals side (``connectors``)
turns them into appeals.  They meet here so that neither imports the other: the worker
calls an :class:`IncidentListener` inside the transaction that writes the incident, so
an appeal and its outbox entries commit together with the incident or not at all.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import psycopg

from citypulse._records import Device, Incident


class IncidentChange(enum.StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"  # severity rose on an open incident
    RESOLVED = "resolved"  # the series has been normal for the configured time


class IncidentListener(Protocol):
    """Called by the detect worker inside the incident's transaction; must not commit."""

    def incident_changed(
        self,
        conn: psycopg.Connection[Any],
        incident: Incident,
        device: Device,
        change: IncidentChange,
    ) -> None: ...
