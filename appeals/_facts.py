"""What an appeal text is made of: an incident's facts, formatted for the locale.

Numbers with the locale's decimal mark (``0,21`` in Russian), durations in minutes and
hours, units (hygienic limits in mg/m³, as СанПиН 1.2.3685-21 states them), the device's
place in words, reading fields in words (never their keys) and times in the region's
time zone with the zone named (``10:28 МСК``).  ``_texts`` builds the sentences from these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from appeals._zones import zone_label
from citypulse import Device, DeviceKind, Incident

NBSP = "\u00a0"

#: An incident's or event's severity (1 to 4) in words: (Russian, English).
SEVERITIES = {
    1: ("низкая", "low"),
    2: ("средняя", "medium"),
    3: ("высокая", "high"),
    4: ("критическая", "critical"),
}
#: An appeal's status in words: (Russian, English); the texts, the console and the report.
APPEAL_STATUSES = {
    "new": ("новое", "new"),
    "accepted": ("принято", "accepted"),
    "in_progress": ("в работе", "in progress"),
    "resolved": ("решено", "resolved"),
    "closed": ("закрыто", "closed"),
    "rejected": ("отклонено", "rejected"),
}

METRICS = {
    "pm25": ("PM2.5", "PM2.5"),
    "pm10": ("PM10", "PM10"),
    "no2": ("NO₂", "NO₂"),
    "so2": ("SO₂", "SO₂"),
    "co": ("CO", "CO"),
    "o3": ("O₃", "O₃"),
    "laeq": ("уровень шума", "noise level"),
    "temperature": ("температура", "temperature"),
    "relative_humidity": ("влажность", "humidity"),
    "atmospheric_pressure": ("давление", "pressure"),
    "intensity": ("интенсивность движения", "traffic volume"),
    "average_vehicle_speed": ("средняя скорость", "average speed"),
    "occupancy": ("загрузка полосы", "lane occupancy"),
    "heavy_vehicle_share": ("доля грузовиков", "heavy vehicle share"),
    "occupied_spot_number": ("занятые места", "occupied spaces"),
    "total_spot_number": ("всего мест", "total spaces"),
    "phase_elapsed": ("длительность фазы", "phase duration"),
    "cycle_length": ("длина цикла", "cycle length"),
    "supply_voltage": ("напряжение питания", "supply voltage"),
    # What detectors call what they watch, beyond the reading fields.
    "camera_report": ("показания камеры", "camera readings"),
    "flow_speed_occupancy": (
        "сочетание потока, скорости и загрузки полосы",
        "combination of flow, speed and lane occupancy",
    ),
    "phase_duration": ("длительность фазы", "phase duration"),
    "lamp_fault": ("исправность ламп", "lamp status"),
}
_UNITS = {
    "mg/m³": ("мг/м³", "mg/m³"),
    "mg/m3": ("мг/м³", "mg/m³"),
    "µg/m³": ("мкг/м³", "µg/m³"),
    "ug/m3": ("мкг/м³", "µg/m³"),
    "μg/m³": ("мкг/м³", "µg/m³"),
    "km/h": ("км/ч", "km/h"),
    "db(a)": ("дБА", "dB(A)"),
    "dba": ("дБА", "dB(A)"),
    "v": ("В", "V"),
    "°c": ("°C", "°C"),
    "hpa": ("гПа", "hPa"),
    "vehicles": ("авт.", "vehicles"),
    "%": ("%", "%"),
    "spots": ("мест", "spaces"),
}
_MICROGRAMS = frozenset({"µg/m³", "ug/m3", "μg/m³"})
_COUNTS = frozenset({"vehicles", "spots"})
_POLLUTANTS = frozenset({"pm25", "pm10", "no2", "so2", "co", "o3"})
_APPROACHES = {
    "n": ("с севера", "from the north"),
    "s": ("с юга", "from the south"),
    "e": ("с востока", "from the east"),
    "w": ("с запада", "from the west"),
}


def format_number(x: float, locale: str = "ru") -> str:
    """``0.21`` -> ``0,21`` (ru) / ``0.21`` (en); ``21000`` -> ``21 000`` / ``21,000``."""
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    decimals = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 1 else 3
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if locale == "ru":
        return text.replace(",", NBSP).replace(".", ",")
    return text


def format_duration(seconds: float, locale: str = "ru") -> str:
    """``420`` -> ``7 мин``; ``7800`` -> ``2 ч 10 мин``; under a minute ``меньше минуты``:
    an operator counts in minutes and hours, never in seconds."""
    ru = locale == "ru"
    s = max(0, round(seconds)) if math.isfinite(seconds) else 0
    if s < 60:
        return "меньше минуты" if ru else "under a minute"
    minutes = round(s / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    names = ("сут", "ч", "мин") if ru else ("d", "h", "min")
    parts = [f"{n}{NBSP}{u}" for n, u in zip((days, hours, mins), names, strict=True) if n]
    if days:
        parts = parts[:2]  # "3 сут 4 ч": minutes do not matter after days
    return " ".join(parts)


def format_unit(unit: str, locale: str = "ru") -> str:
    """``µg/m³`` -> ``мкг/м³`` (ru) / ``µg/m³`` (en); a unit it does not know unchanged."""
    raw = unit.strip()
    pair = _UNITS.get(raw.lower()) or _UNITS.get(raw)
    return pick(pair, locale) if pair else raw


def format_quantity(x: float | None, unit: str, locale: str = "ru", *, metric: str = "") -> str:
    """A value with its unit as texts show it: ``0,231 мг/м³``, ``2 ч 47 мин``, ``86 %``.

    A pollutant (``metric`` pm25, no2, ...) in µg/m³ is shown in mg/m³, the unit its
    hygienic limit is stated in; seconds are a duration; a ratio is a percentage.  Empty
    for a missing or non-finite value.
    """
    if x is None or not math.isfinite(x):
        return ""
    raw = unit.strip()
    if raw in ("ratio", "share", "fraction"):
        return f"{format_number(x * 100, locale)}{NBSP}%"
    if raw == "s":
        return format_duration(x, locale)
    if metric in _POLLUTANTS and raw in _MICROGRAMS:
        x, raw = x / 1000.0, "mg/m³"  # hygienic limits are stated in mg/m³
    if raw in _COUNTS:  # a learnt level of vehicles or spaces: no hundredths of a car
        x = round(x) if abs(x) >= 10 else round(x, 1)
    shown = format_unit(raw, locale)
    return f"{format_number(x, locale)}{NBSP}{shown}" if shown else format_number(x, locale)


def plural_ru(n: int, forms: tuple[str, str, str]) -> str:
    """The Russian form for ``n``: 1 светофор, 2 светофора, 5 светофоров, 21 светофор."""
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


def pick(pair: tuple[str, str], locale: str) -> str:
    """The locale's half of a (Russian, English) pair."""
    return pair[0] if locale == "ru" else pair[1]


@dataclass(frozen=True, slots=True)
class Facts:
    """What one text is made of, already formatted for the locale."""

    incident: Incident
    device: Device
    locale: str
    zone: ZoneInfo
    district: str
    evidence: Mapping[str, object] = field(default_factory=dict)

    @property
    def ru(self) -> bool:
        return self.locale == "ru"

    def t(self, ru: str, en: str) -> str:
        return ru if self.ru else en

    def num(self, x: float) -> str:
        return format_number(x, self.locale)

    def ev_float(self, *keys: str) -> float | None:
        for key in keys:
            v = self.evidence.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                return float(v)
        return None

    def ev_text(self, *keys: str) -> str:
        for key in keys:
            v = self.evidence.get(key)
            if isinstance(v, str) and v:
                return v
        return ""

    # --- where --------------------------------------------------------------------------
    def crossing(self) -> str:
        attrs = self.device.attributes
        main, cross = attrs.get("main_street"), attrs.get("cross_street")
        if isinstance(main, str) and isinstance(cross, str) and main and cross:
            return f"{main} — {cross}"
        for raw in (self.device.address, self.device.intersection or ""):
            if raw:
                return raw.replace(" / ", " — ")
        return ""

    def place(self) -> str:
        d = self.device
        kind = d.kind
        crossing = self.crossing()
        if kind is DeviceKind.TRAFFIC_LIGHT:
            where = self.t(f" на перекрёстке {crossing}", f" at {crossing}") if crossing else ""
            return self.t("Светофорный объект", "Traffic signal") + where
        if kind is DeviceKind.CAMERA:
            approach = d.attributes.get("approach")
            street = d.attributes.get("street")
            if isinstance(street, str) and street:
                side = pick(_APPROACHES.get(str(approach), ("", "")), self.locale)
                ru = f"Камера {street}" + (f", подход {side}" if side else "")
                en = f"Camera on {street}" + (f", approach {side}" if side else "")
                return self.t(ru, en) + self._at_crossing()
            return self.t("Камера", "Camera") + (f" {d.address}" if d.address else f" {d.id}")
        name = d.name or d.id
        return f"{name} ({d.address})" if d.address and d.address not in name else name

    def _at_crossing(self) -> str:
        inter = (
            self.device.attributes.get("main_street"),
            self.device.attributes.get("cross_street"),
        )
        if all(isinstance(x, str) and x for x in inter):
            return self.t(f" к перекрёстку {inter[0]} — {inter[1]}", f" to {inter[0]} — {inter[1]}")
        if self.device.address and "подход к" in self.device.address:
            crossing = self.device.address.split("подход к", 1)[1].strip().replace(" / ", " — ")
            return self.t(f" к перекрёстку {crossing}", f" to {crossing}")
        return ""

    # --- when ---------------------------------------------------------------------------
    def local(self, t: datetime) -> datetime:
        return t.astimezone(self.zone)

    def zone_name(self, t: datetime) -> str:
        """``МСК``, ``МСК+2``, ``UTC+5``: the region's zone as its readers name it."""
        return zone_label(self.zone, t, self.locale)

    def clock(self, t: datetime, ref: datetime | None = None) -> str:
        """``10:28 МСК``, or ``24.11.2026 10:28 МСК`` when not the day of ``ref`` (by
        default the day the incident began)."""
        lt = self.local(t)
        ref_day = self.local(ref if ref is not None else self.began()).date()
        zone = self.zone_name(t)
        if lt.date() == ref_day:
            return f"{lt:%H:%M} {zone}"
        return f"{lt:%d.%m.%Y %H:%M} {zone}" if self.ru else f"{lt:%H:%M} {zone} on {lt:%Y-%m-%d}"

    def stamp(self, t: datetime) -> str:
        """``25.11.2026 10:28 МСК`` / ``2026-11-25 10:28 MSK``: a time with its date."""
        lt = self.local(t)
        day = f"{lt:%d.%m.%Y}" if self.ru else f"{lt:%Y-%m-%d}"
        return f"{day} {lt:%H:%M} {self.zone_name(t)}"

    def began(self) -> datetime:
        """When the condition began: the evidence's ``since`` when earlier than the first
        alarm (a phase stuck since before the alarm), else the first alarm."""
        start = self.incident.started_at
        since = self.seen_at("since")
        return since if since is not None and since < start else start

    def since(self) -> str:
        return self.t("с ", "since ") + self.clock(self.began())

    def seen_at(self, key: str) -> datetime | None:
        """An ISO time from the evidence (``last_seen``), None when missing or unreadable."""
        raw = self.evidence.get(key)
        if not isinstance(raw, str):
            return None
        try:
            t = datetime.fromisoformat(raw)
        except ValueError:
            return None
        return t if t.tzinfo is not None else None

    @property
    def duration_valued(self) -> bool:
        """The incident's value is how long the condition has lasted (it grows)."""
        return self.incident.unit.strip() == "s"

    # --- how bad ------------------------------------------------------------------------
    def metric_key(self) -> str:
        return self.ev_text("metric", "field", "pollutant")

    def metric(self) -> str:
        """The watched quantity in words; empty for one that has no name in words (its
        key is an internal name, never shown)."""
        pair = METRICS.get(self.metric_key())
        return pick(pair, self.locale) if pair else ""

    def qty(self, x: float | None) -> str:
        return format_quantity(x, self.incident.unit, self.locale, metric=self.metric_key())

    def value(self) -> str:
        return self.qty(self.incident.value)

    def limit(self) -> str:
        return self.qty(self.incident.limit_value)

    def ratio(self) -> str:
        v, lim = self.incident.value, self.incident.limit_value
        if v is None or lim is None or not math.isfinite(v / lim if lim else math.nan):
            return ""
        if lim <= 0 or v <= lim:
            return ""
        return self.t(f"в {self.num(v / lim)} раза", f"{self.num(v / lim)} times")

    def compared(self, ru_against: str, en_against: str) -> str:
        """``8 км/ч при норме 35 км/ч`` (or just the value, or nothing)."""
        value, limit = self.value(), self.limit()
        if not value:
            return ""
        if not limit:
            return value
        return f"{value} {self.t(ru_against, en_against)} {limit}"
