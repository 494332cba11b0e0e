"""A time zone's name as a reader in the region knows it: ``МСК``, ``МСК+2``, ``UTC+5``.

Russia names its zones after Moscow time (МСК, МСК+1 ... МСК+9, МСК−1): a zone in
Russia is named that way, any other by its offset from UTC.  The name is taken at the
given instant, so a zone that changes its offset is named right on either side.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_MOSCOW = ZoneInfo("Europe/Moscow")
#: IANA zones in Russia (tzdata's zone1970.tab, country RU).
_RUSSIAN = frozenset(
    {
        "Europe/Kaliningrad", "Europe/Moscow", "Europe/Simferopol", "Europe/Kirov",
        "Europe/Volgograd", "Europe/Astrakhan", "Europe/Saratov", "Europe/Ulyanovsk",
        "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk", "Asia/Novosibirsk",
        "Asia/Barnaul", "Asia/Tomsk", "Asia/Novokuznetsk", "Asia/Krasnoyarsk",
        "Asia/Irkutsk", "Asia/Chita", "Asia/Yakutsk", "Asia/Khandyga", "Asia/Vladivostok",
        "Asia/Ust-Nera", "Asia/Magadan", "Asia/Sakhalin", "Asia/Srednekolymsk",
        "Asia/Kamchatka", "Asia/Anadyr", "W-SU",
    }
)  # fmt: skip


def _hours(delta: timedelta) -> str:
    """``+2``, ``−1``, ``+5:30``; empty for zero."""
    minutes = round(delta.total_seconds() / 60)
    if minutes == 0:
        return ""
    sign = "+" if minutes > 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}" + (f":{rest:02d}" if rest else "")


def utc_offset(zone: ZoneInfo, at: datetime) -> str:
    """``UTC+3``, ``UTC+5:30``, ``UTC``: the zone's offset from UTC at ``at``."""
    return "UTC" + _hours(at.astimezone(zone).utcoffset() or timedelta(0))


def zone_label(zone: ZoneInfo, at: datetime, locale: str = "ru") -> str:
    """``МСК`` / ``MSK``, ``МСК+2`` / ``MSK+2`` for a zone in Russia, else ``UTC+5``."""
    if zone.key not in _RUSSIAN:
        return utc_offset(zone, at)
    own = at.astimezone(zone).utcoffset() or timedelta(0)
    moscow = at.astimezone(_MOSCOW).utcoffset() or timedelta(0)
    return ("МСК" if locale == "ru" else "MSK") + _hours(own - moscow)
