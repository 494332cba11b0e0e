"""The lab commands' progress lines, on stderr so that stdout stays the result."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """Print one progress line to stderr at once."""
    print(message, file=sys.stderr, flush=True)
