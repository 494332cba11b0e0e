"""Stage contracts that cross packages.

The detect worker (``detectors``) records incidents; ``appeals`` turns them into appeals.
They meet here so that detectors never import appeals, the stage above them: appeals
registers a listener factory as an entry point (:data:`LISTENERS_GROUP`), and the worker
calls an :class:`IncidentListener` inside the transaction that writes the incident, so
an appeal and its outbox entries commit together with the incident or not at all.
"""

from __future__ import annotations

import enum
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from citypulse._errors import ConfigError

if TYPE_CHECKING:
    import psycopg

    from citypulse._records import Device, Incident
    from citypulse._settings import Settings


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


#: The entry-point group where a package registers an incident listener factory
#: (``name = "package:factory"`` in pyproject.toml); ``appeals`` registers its writer.
LISTENERS_GROUP = "citypulse.incident_listeners"


class IncidentListenerFactory(Protocol):
    """Builds a listener from the process's settings (called once per worker)."""

    def __call__(self, settings: Settings) -> IncidentListener: ...


def incident_listener_names() -> tuple[str, ...]:
    """The names of the registered incident listeners."""
    return tuple(ep.name for ep in entry_points(group=LISTENERS_GROUP))


def incident_listener(name: str, settings: Settings) -> IncidentListener:
    """Build the registered incident listener ``name``.

    Raises :class:`ConfigError` when no listener of that name is registered, or when what
    is registered does not build an :class:`IncidentListener`.
    """
    found = entry_points(group=LISTENERS_GROUP, name=name)
    if not found:
        known = ", ".join(incident_listener_names()) or "none"
        raise ConfigError("--listener", f"no incident listener {name!r} (registered: {known})")
    factory: IncidentListenerFactory = next(iter(found)).load()
    listener = factory(settings)
    if not callable(getattr(listener, "incident_changed", None)):
        raise ConfigError("--listener", f"{name!r} did not build an IncidentListener")
    return listener
