"""The incident listener ``citypulse detect`` uses by default, built from settings."""

from __future__ import annotations

from appeals._writer import AppealWriter
from citypulse import Settings


def appeal_writer(settings: Settings) -> AppealWriter:
    """An :class:`AppealWriter` with the configured routing file, connectors and Grafana
    (the same as :meth:`AppealWriter.from_settings`)."""
    return AppealWriter.from_settings(settings)
