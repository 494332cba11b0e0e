"""Process lifetime helpers for long-running commands."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

log = logging.getLogger(__name__)


def stop_on_signals(stop: Callable[[], object], who: str) -> None:
    """Call ``stop`` on SIGTERM or SIGINT, for a long-running command (a clean shutdown)."""

    def handler(signum: int, frame: object) -> None:
        log.info("%s: signal %d, stopping", who, signum)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
