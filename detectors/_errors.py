"""Errors of the detectors package (the detector library, the detect worker, evaluations).

::

    DetectorError (CitypulseError)
    ├── DetectorConfigError     a detector or evaluation was configured wrongly; ``setting``
    │                           names what (also a citypulse ConfigError, exit code 2 at
    │                           the CLI, and a ValueError)
    ├── EvaluationDataError     NAB-format data is missing or inconsistent; ``path``
    ├── LostPartitionsError     a detect worker's partition locks are gone (its lock session
    │                           died): it drops its state and claims again; ``worker_id``
    └── IncidentConflictError   an incident could be neither opened nor found, attempt after
                                attempt, as other writers changed it; ``device_id``,
                                ``incident_type``

The detect worker retries a lost database (:class:`citypulse.DatabaseUnavailable` on
connecting, psycopg's ``OperationalError`` mid-poll) and :class:`LostPartitionsError`;
anything else stops it.
"""

from __future__ import annotations

from citypulse import CitypulseError, ConfigError


class DetectorError(CitypulseError):
    """Root of every error the detectors package raises on purpose."""


class DetectorConfigError(ConfigError, DetectorError, ValueError):
    """A detector was built with arguments that cannot work (negative window, unknown name)."""

    def __init__(self, message: str, *, setting: str = "detector") -> None:
        super().__init__(setting, message)


class EvaluationDataError(DetectorError):
    """Evaluation data is malformed: a label window names a timestamp the file lacks, say."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class LostPartitionsError(DetectorError):
    """The worker's advisory locks are gone (its lock session died): stop and re-claim."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(f"worker {worker_id} lost its partition locks")
        self.worker_id = worker_id


class IncidentConflictError(DetectorError):
    """Opening an incident conflicted with a stored one that was gone when looked up, on
    every attempt: other writers kept changing ``device_id``'s ``incident_type`` incidents."""

    def __init__(self, device_id: str, incident_type: str) -> None:
        super().__init__(f"could not open or find incident {incident_type} on {device_id}")
        self.device_id = device_id
        self.incident_type = incident_type
