"""Errors the simulator raises on purpose.

::

    SimulatorError (CitypulseError)
    ├── ScenarioError   a scenario file or fault specification is invalid; ``where`` names
    │                   the entry or field (also a citypulse ConfigError: exit code 2 at
    │                   the CLI)
    ├── PublishError    the broker refused or dropped the simulator's connections;
    │                   ``client_id`` names the connection
    ├── ReportRefused   the API answered a citizen's report with a 4xx (a bad key, an
    │                   unknown service): permanent; ``report_id``, ``status``
    └── ApiUnreachable  the API stayed unreachable or answered 5xx until the deadline:
                        transient, retried until then; ``report_id``
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


class ReportRefused(SimulatorError):
    """The API refused a citizen's report (4xx); ``status`` and the API's message."""

    def __init__(self, report_id: str, status: int, message: str) -> None:
        super().__init__(f"citizen report {report_id}: the API answered {status}: {message}")
        self.report_id = report_id
        self.status = status


class ApiUnreachable(SimulatorError):
    """The API could not take a citizen's report before the retry deadline."""

    def __init__(self, report_id: str, message: str) -> None:
        super().__init__(f"citizen report {report_id}: {message}")
        self.report_id = report_id
