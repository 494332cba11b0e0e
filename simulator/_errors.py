"""Errors the simulator raises on purpose.

::

    CitypulseError
    └── SimulatorError
        ├── ScenarioError   a scenario file or fault specification is invalid
        └── PublishError    the broker refused or dropped the simulator's connections
"""

from __future__ import annotations

from citypulse import CitypulseError


class SimulatorError(CitypulseError):
    """Root of the simulator's errors."""


class ScenarioError(SimulatorError):
    """A scenario (fault list) is invalid; ``where`` names the entry or field."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"scenario {where}: {message}")
        self.where = where


class PublishError(SimulatorError):
    """Publishing to the broker failed; ``client_id`` names the connection."""

    def __init__(self, client_id: str, message: str) -> None:
        super().__init__(f"MQTT client {client_id}: {message}")
        self.client_id = client_id
