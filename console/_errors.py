"""Errors of the console package.

::

    ConsoleError (CitypulseError)
    ├── BadFilter   a queue filter is wrong; ``name`` says which
    └── Refused     a request the console turns down; ``status`` is the HTTP status
"""

from __future__ import annotations

from citypulse import CitypulseError


class ConsoleError(CitypulseError):
    """Root of every error the console raises on purpose."""


class BadFilter(ConsoleError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class Refused(ConsoleError):
    """Turned down with ``status`` (400, 403, 404, 409); ``message`` is a word key or text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
