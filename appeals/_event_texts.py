"""Appeal texts for incidents that other systems' events open, in Russian and English.

The same rules as the sensors' texts (``_texts``): what, where, when in the region's time
zone, who saw it, in words an operator uses.  The sender is named as the routing file
names it («Безопасный город»), never by its slug; the sender's own event number and device
are given so the operator can ask the sender about them.  A text depends only on the
event, never on the wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from appeals._facts import SEVERITIES, pick
from appeals._texts import AppealText
from appeals._zones import zone_label
from citypulse import EventIncidentType

# What happened, and whether its time is a moment ("в 08:14") or a start ("с 08:14").
_WHAT: Mapping[EventIncidentType, tuple[str, str, bool]] = {
    EventIncidentType.ROAD_ACCIDENT: ("ДТП", "Road accident", True),
    EventIncidentType.STOPPED_VEHICLE: (
        "Автомобиль стоит на проезжей части",
        "Vehicle stopped on the carriageway",
        False,
    ),
    EventIncidentType.CROWD: ("Скопление людей", "Crowd gathering", False),
    EventIncidentType.FIRE: ("Пожар", "Fire", True),
    EventIncidentType.UTILITY_OUTAGE: ("Авария на сетях", "Utility outage", False),
    EventIncidentType.HOUSING_VIOLATION: (
        "Нарушение содержания дома",
        "Building upkeep violation",
        True,
    ),
}
# ``extra.utility`` of an outage: what is missing.
_UTILITIES = {
    "heating": ("нет отопления", "no heating"),
    "hot_water": ("нет горячей воды", "no hot water"),
    "cold_water": ("нет холодной воды", "no cold water"),
    "water": ("нет воды", "no water"),
    "power": ("нет электричества", "no power"),
    "gas": ("нет газа", "no gas"),
}


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What an event's texts are made of (already validated at the edge)."""

    incident_type: EventIncidentType
    source_name: tuple[str, str]  # (Russian, English) as the routing file names the sender
    event_id: str
    occurred_at: datetime
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    district: str = ""
    device_id: str | None = None
    severity: int | None = None
    description: str = ""
    utility: str = ""


class EventTexts:
    """Renders event appeals' texts in the region's time zone; ``locale`` is ru or en."""

    def __init__(self, *, timezone: str = "Europe/Moscow") -> None:
        self.zone = ZoneInfo(timezone)

    def _when(self, f: EventFacts, ru: bool) -> str:
        moment = _WHAT[f.incident_type][2]
        at = f.occurred_at.astimezone(self.zone)
        if ru:
            return f"{'в' if moment else 'с'} {at:%H:%M} {self._zone(at, 'ru')}"
        return f"{'at' if moment else 'since'} {at:%H:%M} {self._zone(at, 'en')}"

    def _zone(self, at: datetime, locale: str) -> str:
        return zone_label(self.zone, at, locale)

    def _where(self, f: EventFacts, ru: bool) -> str:
        if f.address:
            return f.address
        if f.lat is not None and f.lon is not None:
            point = f"{f.lat:.5f}, {f.lon:.5f}"
            if f.district:
                return f"{f.district}, " + (f"точка {point}" if ru else f"point {point}")
            return ("точка " if ru else "point ") + point
        return f.district

    def render(self, f: EventFacts, *, locale: str = "ru") -> AppealText:
        ru = locale != "en"
        what = pick(_WHAT[f.incident_type][:2], "ru" if ru else "en")
        if f.incident_type is EventIncidentType.UTILITY_OUTAGE and f.utility in _UTILITIES:
            what += ": " + pick(_UTILITIES[f.utility], "ru" if ru else "en")
        where = self._where(f, ru)
        title = f"{what} — {where}, {self._when(f, ru)}" if where else f"{what} {self._when(f, ru)}"
        at = f.occurred_at.astimezone(self.zone)
        lines = [title + "."]
        place = ", ".join(x for x in (f.address, f.district) if x)
        if place:
            lines.append(("Адрес: " if ru else "Address: ") + place + ".")
        if f.lat is not None and f.lon is not None:
            lines.append(("Координаты: " if ru else "Coordinates: ") + f"{f.lat:.5f}, {f.lon:.5f}.")
        lines.append(
            ("Время события: " if ru else "Happened: ")
            + f"{at:%d.%m.%Y %H:%M} {self._zone(at, 'ru' if ru else 'en')}."
        )
        source = pick(f.source_name, "ru" if ru else "en")
        parts = [source]
        if f.device_id:
            parts.append(("устройство " if ru else "device ") + f.device_id)
        parts.append(("сообщение № " if ru else "event ") + f.event_id)
        lines.append(("Источник: " if ru else "Source: ") + ", ".join(parts) + ".")
        if f.severity in SEVERITIES:
            level = pick(SEVERITIES[f.severity], "ru" if ru else "en")
            lines.append(
                f"Оценка отправителя: {level} ({f.severity} из 4)."
                if ru
                else f"Sender's severity: {level} ({f.severity} of 4)."
            )
        if f.description:
            lines.append(
                ("Описание отправителя: " if ru else "Sender's description: ") + f.description
            )
        return AppealText(title=title, description="\n".join(lines))

    def repeated_note(self, f: EventFacts, *, locale: str = "ru") -> str:
        """The history note of a repeat that updated an open incident."""
        at = f.occurred_at.astimezone(self.zone)
        source = pick(f.source_name, locale)
        if locale == "en":
            zone = self._zone(at, "en")
            return (
                f"Reported again by {source} (event {f.event_id}) at {at:%H:%M} {zone}"
                f" on {at:%d.%m.%Y}"
            )
        zone = self._zone(at, "ru")
        return f"Повторное сообщение: {source}, № {f.event_id}, в {at:%H:%M} {zone} {at:%d.%m.%Y}"

    def escalated_note(self, priority: int, *, locale: str = "ru") -> str:
        if locale == "en":
            return f"Escalated by a repeated report: priority raised to {priority}"
        return f"Эскалация по повторному сообщению: приоритет повышен до {priority}"
