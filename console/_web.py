"""Pages: the Jinja2 environment (autoescaped, strict), and how times, deadlines and
statuses are written for a reader in the region's time zone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from appeals import format_duration, utc_offset, zone_label
from citypulse.render import templates
from console._i18n import words


def environment() -> jinja2.Environment:
    """Templates from the package; every value escaped unless marked safe in Python."""
    return templates("console")


def zone_name(zone: ZoneInfo, now: datetime, lang: str) -> str:
    """``Europe/Moscow (МСК, UTC+3)``: the zone by name, as Russians call it, and offset."""
    short, offset = zone_label(zone, now, lang), utc_offset(zone, now)
    inner = offset if short == offset else f"{short}, {offset}"
    return f"{zone.key} ({inner})"


class Formats:
    """Formatting helpers the templates call, bound to a language and a time zone."""

    def __init__(self, lang: str, zone: ZoneInfo) -> None:
        self.lang = lang
        self.zone = zone
        self.t = words(lang)

    def when(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return value.astimezone(self.zone).strftime("%d.%m.%Y %H:%M")

    def when_s(self, value: datetime) -> str:
        """With seconds: history entries made within a minute stay apart."""
        return value.astimezone(self.zone).strftime("%d.%m.%Y %H:%M:%S")

    def short(self, value: datetime | None, now: datetime) -> str:
        """Today's times as ``14:05``, older ones with the date."""
        if value is None:
            return "—"
        local, today = value.astimezone(self.zone), now.astimezone(self.zone)
        if local.date() == today.date():
            return local.strftime("%H:%M")
        return local.strftime("%d.%m %H:%M")

    def clock(self, seconds_left: float | None) -> str:
        """``осталось 2 ч 10 мин`` or ``просрочено на 35 мин``."""
        if seconds_left is None:
            return ""
        if seconds_left >= 0:
            left = format_duration(seconds_left, self.lang)
            return f"осталось {left}" if self.lang == "ru" else f"{left} left"
        return f"{self.t('overdue_by')} {format_duration(-seconds_left, self.lang)}"

    def context(self) -> Mapping[str, Callable[..., Any]]:
        return {
            "t": self.t,
            "when": self.when,
            "when_s": self.when_s,
            "short": self.short,
            "clock": self.clock,
            "duration": lambda s: format_duration(s, self.lang),
        }
