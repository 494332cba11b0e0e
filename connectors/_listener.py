"""The incident listener ``citypulse detect`` uses by default, built from settings."""

from __future__ import annotations

from citypulse._settings import Settings
from connectors._routing import load_routing
from connectors._writer import AppealWriter


def appeal_writer(settings: Settings) -> AppealWriter:
    """An :class:`AppealWriter` with the configured routing file, connectors and Grafana."""
    return AppealWriter(
        routing=load_routing(settings.routing_file),
        connectors=settings.connectors,
        grafana_url=settings.grafana_url,
    )
