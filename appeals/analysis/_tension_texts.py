"""A tension point in words, for operators: where, how many appeals, over what time, and
against what normal.

::

    Дороги, Ленинский округ: 37 обращений за сутки при норме 9–14
    ЖКХ, Ленинский округ: 12 обращений «Протечка» в радиусе 250 м за сутки при обычных 1,5
    (ул. Ленина, 5)
    Дороги, Ленинский округ: 4 обращения «Неисправность светофора» за 30 дней по одному
    устройству (tl-lenina-pushkina, ул. Ленина — ул. Пушкина)

Russian by default, English too.  Sector blocks, districts, services and addresses are
the routing file's and the appeals' own names, quoted as they are in both languages.
The text is written only from the point's ``facts`` (the keys ``_records`` documents),
its sector, district, service and device, never from the wall clock, and never names a
score.  A missing fact makes the sentence shorter, never wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from appeals._facts import NBSP, format_number, plural_ru
from appeals._routing import Routing
from appeals.analysis._records import TensionKind, TensionPoint

_APPEALS = ("обращение", "обращения", "обращений")
_HOURS = ("час", "часа", "часов")
_MINUTES = ("минуту", "минуты", "минут")
_DAYS = ("день", "дня", "дней")
_SUTKI = ("сутки", "суток", "суток")


def _number(facts: Mapping[str, Any], key: str) -> float | None:
    value = facts.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _text(facts: Mapping[str, Any], key: str) -> str:
    value = facts.get(key)
    return value.strip() if isinstance(value, str) else ""


def count_phrase(n: int, locale: str) -> str:
    """``37 обращений`` / ``37 appeals``."""
    if locale == "ru":
        return f"{n}{NBSP}{plural_ru(n, _APPEALS)}"
    return f"{n}{NBSP}appeal" + ("" if n == 1 else "s")


def window_phrase(hours: float, locale: str) -> str:
    """``за сутки``, ``за 6 часов``, ``за час``, ``за 30 минут``, ``за 2 суток`` (and
    ``in a day``, ``in 6 hours``, ``in an hour`` ...): the window a count is over."""
    ru = locale == "ru"
    minutes = round(hours * 60)
    if minutes < 60 or minutes % 60:  # 90 minutes stay minutes, never "1,5 часа"
        n = max(1, minutes)
        if ru:
            return f"за {n}{NBSP}{plural_ru(n, _MINUTES)}"
        return f"in {n}{NBSP}minute" + ("" if n == 1 else "s")
    whole = minutes // 60
    if whole % 24 == 0:
        days = whole // 24
        if days == 1:
            return "за сутки" if ru else "in a day"
        if ru:
            return f"за {days}{NBSP}{plural_ru(days, _SUTKI)}"
        return f"in {days}{NBSP}days"
    if whole == 1:
        return "за час" if ru else "in an hour"
    if ru:
        return f"за {whole}{NBSP}{plural_ru(whole, _HOURS)}"
    return f"in {whole}{NBSP}hours"


def days_phrase(days: int, locale: str) -> str:
    """``за 30 дней``, ``за 21 день``, ``за день`` / ``in 30 days``."""
    if locale == "ru":
        return "за день" if days == 1 else f"за {days}{NBSP}{plural_ru(days, _DAYS)}"
    return "in a day" if days == 1 else f"in {days}{NBSP}days"


def _normal(facts: Mapping[str, Any], locale: str) -> str:
    """``при норме 9–14`` (or ``при норме 9``, or ``при обычных 11``) / ``against a usual
    9–14``; empty without the numbers."""
    ru = locale == "ru"
    low, high = _number(facts, "normal_low"), _number(facts, "normal_high")
    if low is not None and high is not None and high >= low:
        lo, hi = math.floor(low), math.ceil(high)
        shown = str(lo) if lo == hi else f"{lo}–{hi}"
        return f"при норме {shown}" if ru else f"against a usual {shown}"
    expected = _number(facts, "expected")
    if expected is not None:
        shown = format_number(expected, locale)
        return f"при обычных {shown}" if ru else f"against a usual {shown}"
    return ""


def _where(point: TensionPoint, routing: Routing, locale: str) -> str:
    """``Дороги, Ленинский округ``; a region-wide cell names the region."""
    place = point.district or routing.region
    return ", ".join(x for x in (point.sector, place) if x)


def _service(point: TensionPoint, routing: Routing, locale: str) -> str:
    """The service's name in quotes, or nothing for a point not about one service (an
    unknown code is never shown: it is an internal name)."""
    service = routing.service(point.service_code) if point.service_code else None
    if service is None:
        return ""
    return f"«{service.service_name}»" if locale == "ru" else f'about "{service.service_name}"'


def _count(point: TensionPoint, facts: Mapping[str, Any]) -> int:
    n = _number(facts, "count")
    return round(n) if n is not None else len(point.appeal_ids)


def _surge(point: TensionPoint, routing: Routing, locale: str) -> str:
    facts = point.facts
    window = _number(facts, "window_h")
    parts = [
        count_phrase(_count(point, facts), locale),
        _service(point, routing, locale) if _text(facts, "cell") != "sector" else "",
        window_phrase(window, locale) if window else "",
        _normal(facts, locale),
    ]
    return _where(point, routing, locale) + ": " + " ".join(p for p in parts if p)


def _cluster(point: TensionPoint, routing: Routing, locale: str) -> str:
    ru = locale == "ru"
    facts = point.facts
    radius = _number(facts, "radius_m")
    window = _number(facts, "window_h")
    near = ""
    if radius:
        metres = format_number(round(radius), locale)
        near = f"в радиусе {metres}{NBSP}м" if ru else f"within {metres}{NBSP}m"
    parts = [
        count_phrase(_count(point, facts), locale),
        _service(point, routing, locale),
        near,
        window_phrase(window, locale) if window else "",
        _normal(facts, locale),
    ]
    address = _text(facts, "address")
    text = _where(point, routing, locale) + ": " + " ".join(p for p in parts if p)
    return text + (f" ({address})" if address else "")


def _recurrence(point: TensionPoint, routing: Routing, locale: str) -> str:
    ru = locale == "ru"
    facts = point.facts
    days = _number(facts, "days")
    address = _text(facts, "address")
    if point.device_id:
        about = "по одному устройству" if ru else "about one device"
        detail = ", ".join(x for x in (point.device_id, address) if x)
    else:
        about = "по одному месту" if ru else "at one place"
        detail = address
    parts = [
        count_phrase(_count(point, facts), locale),
        _service(point, routing, locale),
        days_phrase(round(days), locale) if days and round(days) >= 1 else "",
        about,
        _normal(facts, locale),
    ]
    text = _where(point, routing, locale) + ": " + " ".join(p for p in parts if p)
    return text + (f" ({detail})" if detail else "")


_KINDS = {
    TensionKind.SURGE: _surge,
    TensionKind.CLUSTER: _cluster,
    TensionKind.RECURRENCE: _recurrence,
}


def explain(point: TensionPoint, locale: str, routing: Routing) -> str:
    """The point in one plain sentence in ``locale`` (``ru`` or ``en``; anything else is
    read as ``ru``, the operators' language)."""
    return _KINDS[point.kind](point, routing, "en" if locale == "en" else "ru")
