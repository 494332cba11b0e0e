"""Errors raised by the detector library.

DetectorError                 root of everything ``detectors`` raises
├── DetectorConfigError       a detector or evaluation was configured wrongly
└── EvaluationDataError       NAB-format data is missing or inconsistent
"""

from __future__ import annotations


class DetectorError(Exception):
    """Root of the detector library's exceptions."""


class DetectorConfigError(DetectorError, ValueError):
    """A detector was built with arguments that cannot work (negative window, unknown name)."""


class EvaluationDataError(DetectorError):
    """Evaluation data is malformed: a label window names a timestamp the file lacks, say."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
