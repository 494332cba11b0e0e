"""Durations as people write them: ``90``, ``90s``, ``45m``, ``6h``, ``1d2h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$"
)


def parse_duration(value: str | float | int) -> timedelta:
    """``90``, ``"90s"``, ``"45m"``, ``"1d2h30m"`` as a timedelta (bare numbers are seconds);
    ValueError for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    text = str(value).strip().lower().replace(" ", "")
    m = _DURATION.match(text)
    try:
        if not text or m is None or not any(m.groups()):
            return timedelta(seconds=float(text))
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        return timedelta(days=d, hours=h, minutes=mi, seconds=s)
    except (ValueError, OverflowError):  # not a number, nan, or more days than timedelta holds
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 45m, 6h, 1d)") from None
