"""Errors the simulator raises on purpose.

::

    SimulatorError (CitypulseError)
    ├── ScenarioError   a scenario file or fault specification is invalid; ``where`` names
    │                   the entry or field (also a citypulse ConfigError: exit code 2 at
    │                   the CLI)
    └── PublishError    the broker refused or dropped the simulator's connections;
                        ``client_id`` names the connection
"""

from __future__ import annotations

from citypulse import CitypulseError, ConfigError


class SimulatorError(CitypulseError):
    """Root of the simulator's errors."""


class ScenarioError(ConfigError, SimulatorError):
    """A scenario (fault list) is invalid; ``where`` names the entry or field."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__("scenario", f"{where}: {message}")
        self.where = where


class PublishError(SimulatorError):
    """Publishing to the broker failed; ``client_id`` names the connection."""

    def __init__(self, client_id: str, message: str) -> None:
        super().__init__(f"MQTT client {client_id}: {message}")
        self.client_id = client_id
