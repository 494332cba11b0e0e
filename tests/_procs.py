"""Helpers for fixtures that run real servers as child processes.

Port, user and permission handling, and TimescaleDB's settings, are shared with the
embedded servers of the demo.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lab._embedded import (
    TIMESCALEDB_CONF,
    chown_tree,
    demote,
    free_port,
    initdb_command,
    unprivileged_user,
)
from lab._embedded import wait_for_port as _wait_for_port

__all__ = [
    "TIMESCALEDB_CONF",
    "chown_tree",
    "demote",
    "find_binary",
    "free_port",
    "initdb_command",
    "run_checked",
    "unprivileged_user",
    "wait_for_port",
]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    _wait_for_port(port, timeout)


def find_binary(name: str, extra_dirs: list[str]) -> str | None:
    for d in extra_dirs:
        candidate = Path(d) / name
        if candidate.is_file():
            return str(candidate)
    return shutil.which(name)


def run_checked(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]
