"""Appeal titles and descriptions an operator can act on: what, where, since when, how bad.

Russian by default, English too.  Numbers use the locale's decimal mark (``0,21`` in
Russian), times the region's time zone.  Texts depend only on the incident and the
device, never on the wall clock, so the same incident always reads the same.

What a text uses from an incident: ``value``, ``limit_value``, ``unit``, ``started_at``,
``last_alarm_at``, ``score``/``threshold``, ``detector`` and, from ``evidence`` when present,
``metric`` (a reading field: pm10, average_vehicle_speed, ...), ``phase``, ``duration_s``,
``averaging`` (``max_single`` or ``daily`` for СанПиН limits; also ``limit_kind``),
``reason`` and ``expected_interval_s`` (silence), ``expected_per_interval`` (a blocked
camera), ``occupancy`` (congestion), ``occupied``/``total`` (parking), ``offset`` and
``reference`` (drift), ``expected`` (anomaly), ``reason``/``detail`` (invalid data),
``lamp``: the keys ``detectors._incidents`` documents.  Any of them may be missing: the
sentence is then shorter, never wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from citypulse import Device, DeviceKind, Incident, IncidentType

_NBSP = "\u00a0"

_PHASES = {
    "red": ("красный", "red"),
    "red_yellow": ("красный с жёлтым", "red and yellow"),
    "green": ("зелёный", "green"),
    "yellow": ("жёлтый", "yellow"),
    "flashing_yellow": ("жёлтый мигающий", "flashing yellow"),
    "off": ("выключен", "off"),
}
_METRICS = {
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
_POLLUTANTS = frozenset({"pm25", "pm10", "no2", "so2", "co", "o3"})
_LIMIT_KINDS = {
    "max_single": ("максимальной разовой", "the maximum single limit of"),
    "daily": ("среднесуточной", "the daily average limit of"),
}
_APPROACHES = {
    "n": ("с севера", "from the north"),
    "s": ("с юга", "from the south"),
    "e": ("с востока", "from the east"),
    "w": ("с запада", "from the west"),
}


@dataclass(frozen=True, slots=True)
class AppealText:
    title: str
    description: str


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
        return text.replace(",", _NBSP).replace(".", ",")
    return text


def format_duration(seconds: float, locale: str = "ru") -> str:
    """``420`` -> ``7 мин``; ``7800`` -> ``2 ч 10 мин``; ``45`` -> ``45 с``."""
    ru = locale == "ru"
    s = max(0, round(seconds)) if math.isfinite(seconds) else 0
    if s < 60:
        return f"{s}{_NBSP}{'с' if ru else 's'}"
    minutes = round(s / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    names = ("сут", "ч", "мин") if ru else ("d", "h", "min")
    parts = [f"{n}{_NBSP}{u}" for n, u in zip((days, hours, mins), names, strict=True) if n]
    if days:
        parts = parts[:2]  # "3 сут 4 ч": minutes do not matter after days
    return " ".join(parts)


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[0] if locale == "ru" else pair[1]


@dataclass(frozen=True, slots=True)
class _Facts:
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
                side = _pick(_APPROACHES.get(str(approach), ("", "")), self.locale)
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

    def clock(self, t: datetime) -> str:
        """``08:14``, or ``08:14 24.11.2026`` when not the day of the last alarm."""
        lt, ref = self.local(t), self.local(self.incident.last_alarm_at)
        if lt.date() == ref.date():
            return f"{lt:%H:%M}"
        return f"{lt:%H:%M %d.%m.%Y}" if self.ru else f"{lt:%H:%M} on {lt:%Y-%m-%d}"

    def since(self) -> str:
        return self.t("с ", "since ") + self.clock(self.incident.started_at)

    def duration_s(self) -> float:
        i = self.incident
        if (
            i.unit == "s"
            and i.value is not None
            and math.isfinite(i.value)
            and i.type in _DURATION_VALUED
        ):
            return i.value
        explicit = self.ev_float("duration_s")
        if explicit is not None:
            return explicit
        return max(0.0, (i.last_alarm_at - i.started_at).total_seconds())

    def lasting(self) -> str:
        """``7 мин`` / ``for 7 min``."""
        return self.t("", "for ") + format_duration(self.duration_s(), self.locale)

    # --- how bad ------------------------------------------------------------------------
    def metric_key(self) -> str:
        return self.ev_text("metric", "field", "pollutant")

    def metric(self) -> str:
        key = self.metric_key()
        if not key:
            return ""
        return _pick(_METRICS.get(key, (key, key)), self.locale)

    def unit(self) -> str:
        raw = self.incident.unit.strip()
        if self.metric_key() in _POLLUTANTS and raw in _MICROGRAMS:
            raw = "mg/m³"  # hygienic limits are stated in mg/m³; values are scaled below
        pair = _UNITS.get(raw.lower()) or _UNITS.get(raw)
        return _pick(pair, self.locale) if pair else raw

    def scaled(self, x: float) -> float:
        if self.metric_key() in _POLLUTANTS and self.incident.unit.strip() in _MICROGRAMS:
            return x / 1000.0
        return x

    def qty(self, x: float | None) -> str:
        if x is None or not math.isfinite(x):
            return ""
        unit = self.unit()
        if self.incident.unit.strip() in ("ratio", "share", "fraction"):
            return f"{self.num(x * 100)}{_NBSP}%"
        if self.incident.unit.strip() == "s":
            return format_duration(x, self.locale)
        return f"{self.num(self.scaled(x))}{_NBSP}{unit}" if unit else self.num(self.scaled(x))

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


_DURATION_VALUED = frozenset(
    {
        IncidentType.STUCK_PHASE,
        IncidentType.DEVICE_SILENT,
        IncidentType.FROZEN_VALUES,
        IncidentType.PARKING_STUCK,
        IncidentType.PARKING_FULL,
        IncidentType.SIGNAL_FLASHING,
        IncidentType.SIGNAL_DARK,
    }
)


def _join(head: str, *details: str) -> str:
    """``head: a, b (с 08:14)`` without empty parts."""
    return head + ": " + ", ".join(d for d in details if d)


def _stuck_phase(f: _Facts) -> str:
    phase = f.ev_text("phase")
    name = _pick(_PHASES.get(phase, (phase, phase)), f.locale) if phase else ""
    what = (
        f.t(f"фаза „{name}“ не переключается", f"the {name} phase does not change")
        if name
        else f.t("фаза не переключается", "the phase does not change")
    )
    return _join(f.place(), f"{what} {f.lasting()} ({f.since()})")


def _signal_flashing(f: _Facts) -> str:
    return _join(
        f.place(),
        f.t("режим „жёлтый мигающий“", "fell back to flashing yellow")
        + f" {f.lasting()} ({f.since()})",
    )


def _signal_dark(f: _Facts) -> str:
    return _join(
        f.place(), f.t("светофор не работает", "signal is dark") + f" {f.lasting()} ({f.since()})"
    )


def _lamp_fault(f: _Facts) -> str:
    lamp = f.ev_text("lamp", "signal_group")
    what = f.t("неисправность лампы", "lamp failure") + (f" ({lamp})" if lamp else "")
    return _join(f.place(), f"{what} {f.since()}")


def _device_silent(f: _Facts) -> str:
    expected = f.ev_float("expected_interval_s") or f.device.report_interval_s
    what = f.t("нет данных", "no data")
    if f.ev_text("reason") == "last_will":
        what = f.t("связь потеряна, нет данных", "connection lost, no data")
    elif f.ev_text("reason") == "status":
        what = f.t("устройство сообщило об отключении, нет данных", "device went offline, no data")
    return _join(
        f.place(),
        what
        + f" {f.lasting()} ({f.since()})"
        + f.t(
            f" при интервале передачи {format_duration(expected, 'ru')}",
            f", reports expected every {format_duration(expected, 'en')}",
        ),
    )


def _frozen_values(f: _Facts) -> str:
    metric = f.metric()
    what = (
        f.t(f"показания «{metric}» не меняются", f"{metric} readings do not change")
        if metric
        else f.t("показания не меняются", "readings do not change")
    )
    return _join(f.place(), f"{what} {f.lasting()} ({f.since()})")


def _camera_obstructed(f: _Facts) -> str:
    counts = f.value()
    expected = f.ev_float("expected_per_interval", "expected", "baseline")
    neighbours = f.ev_float("neighbours_value")
    if counts and neighbours is not None:
        counts = f.t(
            f"{counts} при {f.qty(neighbours)} у соседних камер",
            f"{counts} while neighbours see {f.qty(neighbours)}",
        )
    elif counts and expected is not None:
        counts = f.t(
            f"{counts} при обычных {f.qty(expected)}", f"{counts} against a usual {f.qty(expected)}"
        )
    return _join(
        f.place(),
        f.t(
            "камера не видит транспорт (возможно, закрыт объектив)",
            "camera sees no traffic (lens may be blocked)",
        ),
        counts,
        f.since(),
    )


def _congestion(f: _Facts) -> str:
    metric = f.metric() or f.t("средняя скорость", "average speed")
    value, limit = f.value(), f.limit()
    speed = ""
    if value:
        speed = f"{metric} {value}" + (
            f.t(f" при пороге затора {limit}", f", congested below {limit}") if limit else ""
        )
    occupancy = f.ev_float("occupancy")
    load = ""
    if occupancy is not None and 0 <= occupancy <= 1:
        load = f.t("загрузка полосы ", "lane occupancy ") + f"{f.num(occupancy * 100)}{_NBSP}%"
    return _join(f.place(), f.t("затор", "congestion"), speed, load, f"{f.lasting()} ({f.since()})")


def _parking_numbers(f: _Facts) -> str:
    occupied = f.ev_float("occupied")
    if occupied is None and f.incident.unit in ("spots", ""):
        occupied = f.incident.value
    total = f.ev_float("total")
    if total is None:
        attr = f.device.attributes.get("total_spot_number")
        total = (
            float(attr) if isinstance(attr, int | float) and not isinstance(attr, bool) else None
        )
    if occupied is None or total is None or total <= 0:
        return ""
    return f.t(
        f"занято {f.num(occupied)} из {f.num(total)} мест",
        f"{f.num(occupied)} of {f.num(total)} spaces taken",
    )


def _parking_stuck(f: _Facts) -> str:
    return _join(
        f.place(),
        f.t("датчик занятости не меняется", "occupancy sensor does not change")
        + f" {f.lasting()} ({f.since()})",
        _parking_numbers(f),
    )


def _parking_full(f: _Facts) -> str:
    return _join(
        f.place(),
        f.t("парковка заполнена", "lot is full") + f" {f.lasting()} ({f.since()})",
        _parking_numbers(f),
    )


def _limit_kind(f: _Facts) -> str:
    kind = f.ev_text("limit_kind", "limit", "rule", "averaging")
    return _pick(_LIMIT_KINDS[kind], f.locale) if kind in _LIMIT_KINDS else ""


def _air_quality(f: _Facts) -> str:
    metric = f.metric() or f.t("загрязняющее вещество", "pollutant")
    if f.metric_key() == "laeq":
        head = f.t("Превышение допустимого уровня шума", "Noise above the permitted level")
        return _join(head, f.compared("при норме", "against"), f.place(), f.since())
    kind = _limit_kind(f)
    against = f.t(f"при {kind} ПДК" if kind else "при ПДК", f"against {kind or 'the limit of'}")
    value, limit = f.value(), f.limit()
    amount = f"{metric} {value}" if value else metric
    if limit:
        amount += f" {against} {limit}"
    ratio = f.ratio()
    if ratio:
        amount += f" ({ratio})"
    return _join(f.t("Превышение ПДК", "Air quality limit exceeded"), amount, f.place(), f.since())


def _sensor_drift(f: _Facts) -> str:
    metric = f.metric()
    offset = f.ev_float("offset")
    reference = f.ev_text("reference")
    ref = _pick(_METRICS.get(reference, (reference, reference)), f.locale) if reference else ""
    shift = ""
    if offset is not None:
        shift = f.t("смещение ", "offset ") + (f.qty(offset) or f.num(offset))
        if ref:
            shift += f.t(f" относительно «{ref}»", f" against {ref}")
    return _join(
        f.place(),
        f.t("дрейф показаний", "readings drift")
        + (f.t(f" «{metric}»", f" of {metric}") if metric else ""),
        shift or f.compared("при сезонной норме", "against a seasonal norm of"),
        f.since(),
    )


def _anomaly(f: _Facts) -> str:
    metric = f.metric()
    compared = f.compared("при обычных", "against a usual")
    expected = f.ev_float("expected")
    if f.value() and not f.limit() and expected is not None:
        compared = f.t(
            f"{f.value()} при обычных {f.qty(expected)}",
            f"{f.value()} against a usual {f.qty(expected)}",
        )
    return _join(
        f.place(),
        f.t("нетипичные показания", "unusual readings")
        + (f.t(f" «{metric}»", f" of {metric}") if metric else ""),
        compared,
        f.t(
            f"оценка {f.num(f.incident.score)} при пороге {f.num(f.incident.threshold)}",
            f"score {f.num(f.incident.score)} over threshold {f.num(f.incident.threshold)}",
        ),
        f.since(),
    )


_INVALID_REASONS = {
    "out_of_range": ("значение вне допустимого диапазона", "value out of range"),
    "invalid_json": ("нечитаемое сообщение", "unreadable message"),
    "inconsistent": ("противоречивые показания", "inconsistent readings"),
    "schema": ("сообщение не соответствует схеме", "message does not match the schema"),
}


def _invalid_data(f: _Facts) -> str:
    metric = f.metric()
    value = f.value()
    shown = f.t(f"«{metric}»", metric) + f" = {value}" if metric and value else metric or value
    reason = f.ev_text("reason")
    why = _pick(_INVALID_REASONS[reason], f.locale) if reason in _INVALID_REASONS else reason
    detail = f.ev_text("detail")[:120]
    return _join(
        f.place(),
        f.t("некорректные данные", "invalid data") + (f" {shown}" if shown else ""),
        why,
        detail,
        f.t(f"допустимо не более {f.limit()}", f"at most {f.limit()} is possible")
        if f.limit()
        else "",
        f.since(),
    )


_TITLES: Mapping[IncidentType, Callable[[_Facts], str]] = {
    IncidentType.STUCK_PHASE: _stuck_phase,
    IncidentType.SIGNAL_FLASHING: _signal_flashing,
    IncidentType.SIGNAL_DARK: _signal_dark,
    IncidentType.LAMP_FAULT: _lamp_fault,
    IncidentType.DEVICE_SILENT: _device_silent,
    IncidentType.FROZEN_VALUES: _frozen_values,
    IncidentType.CAMERA_OBSTRUCTED: _camera_obstructed,
    IncidentType.CONGESTION: _congestion,
    IncidentType.PARKING_STUCK: _parking_stuck,
    IncidentType.PARKING_FULL: _parking_full,
    IncidentType.AIR_QUALITY_EXCEEDANCE: _air_quality,
    IncidentType.SENSOR_DRIFT: _sensor_drift,
    IncidentType.ANOMALY: _anomaly,
    IncidentType.INVALID_DATA: _invalid_data,
}


class Texts:
    """Renders appeal texts in the region's time zone; ``locale`` is ``ru`` or ``en``."""

    def __init__(
        self, *, timezone: str = "Europe/Moscow", districts: Mapping[str, str] | None = None
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.districts = dict(districts or {})

    def _facts(self, incident: Incident, device: Device, locale: str) -> _Facts:
        return _Facts(
            incident=incident,
            device=device,
            locale="en" if locale == "en" else "ru",
            zone=self.zone,
            district=self.districts.get(device.district, device.district),
            evidence=incident.evidence,
        )

    def render(self, incident: Incident, device: Device, *, locale: str = "ru") -> AppealText:
        f = self._facts(incident, device, locale)
        title = _TITLES[incident.type](f)
        lines = [title + "."]
        where = ", ".join(x for x in (device.address, f.district) if x)
        if where:
            lines.append(f.t("Адрес: ", "Address: ") + where + ".")
        lines.append(
            f.t("Начало: ", "Started: ")
            + f"{f.local(incident.started_at):%d.%m.%Y %H:%M} ({self.zone.key})"
            + f.t(", последний сигнал: ", ", last alarm: ")
            + f.clock(incident.last_alarm_at)
            + "."
        )
        if f.value() and f.limit():
            lines.append(
                f.t("Значение: ", "Value: ")
                + f"{f.value()}; "
                + f.t("предел: ", "limit: ")
                + f"{f.limit()}."
            )
        lines.append(
            f.t("Источник: устройство ", "Source: device ")
            + f"{device.id}, "
            + f.t("детектор ", "detector ")
            + f"{incident.detector} ("
            + f.t("оценка ", "score ")
            + f"{f.num(incident.score)}"
            + f.t(" при пороге ", ", threshold ")
            + f"{f.num(incident.threshold)})."
        )
        if incident.note:
            lines.append(incident.note)
        return AppealText(title=title, description="\n".join(lines))

    def resolved_note(self, at: datetime, *, locale: str = "ru") -> str:
        """«Датчики: показатели в норме с 09:02» (the time in the region's zone)."""
        lt = at.astimezone(self.zone)
        if locale == "en":
            return f"Sensors: readings normal since {lt:%H:%M} on {lt:%Y-%m-%d}"
        return f"Датчики: показатели в норме с {lt:%H:%M %d.%m.%Y}"

    def escalated_note(self, incident: Incident, priority: int, *, locale: str = "ru") -> str:
        value = self._facts(incident, _NO_DEVICE, locale).value()
        if locale == "en":
            return f"Escalated: severity {incident.severity}, priority {priority}" + (
                f", now {value}" if value else ""
            )
        return f"Эскалация: тяжесть {incident.severity}, приоритет повышен до {priority}" + (
            f", сейчас {value}" if value else ""
        )


_NO_DEVICE = Device(id="", kind=DeviceKind.ECOLOGY)
