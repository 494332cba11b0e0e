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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from appeals._facts import METRICS, NBSP, Facts, format_duration, pick
from citypulse import Device, DeviceKind, Incident, IncidentType

_PHASES = {
    "red": ("красный", "red"),
    "red_yellow": ("красный с жёлтым", "red and yellow"),
    "green": ("зелёный", "green"),
    "yellow": ("жёлтый", "yellow"),
    "flashing_yellow": ("жёлтый мигающий", "flashing yellow"),
    "off": ("выключен", "off"),
}
_LIMIT_KINDS = {
    "max_single": ("максимальной разовой", "the maximum single limit of"),
    "daily": ("среднесуточной", "the daily average limit of"),
}


@dataclass(frozen=True, slots=True)
class AppealText:
    title: str
    description: str


def _join(head: str, *details: str) -> str:
    """``head: a, b (с 08:14)`` without empty parts."""
    return head + ": " + ", ".join(d for d in details if d)


def _stuck_phase(f: Facts) -> str:
    phase = f.ev_text("phase")
    name = pick(_PHASES.get(phase, (phase, phase)), f.locale) if phase else ""
    what = (
        f.t(f"фаза «{name}» не переключается", f"the {name} phase does not change")
        if name
        else f.t("фаза не переключается", "the phase does not change")
    )
    return _join(f.place(), f"{what} {f.lasting()} ({f.since()})")


def _signal_flashing(f: Facts) -> str:
    return _join(
        f.place(),
        f.t("режим «жёлтый мигающий»", "fell back to flashing yellow")
        + f" {f.lasting()} ({f.since()})",
    )


def _signal_dark(f: Facts) -> str:
    return _join(
        f.place(), f.t("светофор не работает", "signal is dark") + f" {f.lasting()} ({f.since()})"
    )


def _lamp_fault(f: Facts) -> str:
    lamp = f.ev_text("lamp", "signal_group")
    what = f.t("неисправность лампы", "lamp failure") + (f" ({lamp})" if lamp else "")
    return _join(f.place(), f"{what} {f.since()}")


def _device_silent(f: Facts) -> str:
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


def _frozen_values(f: Facts) -> str:
    metric = f.metric()
    what = (
        f.t(f"показания «{metric}» не меняются", f"{metric} readings do not change")
        if metric
        else f.t("показания не меняются", "readings do not change")
    )
    return _join(f.place(), f"{what} {f.lasting()} ({f.since()})")


def _camera_obstructed(f: Facts) -> str:
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


def _congestion(f: Facts) -> str:
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
        load = f.t("загрузка полосы ", "lane occupancy ") + f"{f.num(occupancy * 100)}{NBSP}%"
    return _join(f.place(), f.t("затор", "congestion"), speed, load, f"{f.lasting()} ({f.since()})")


def _parking_numbers(f: Facts) -> str:
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


def _parking_stuck(f: Facts) -> str:
    return _join(
        f.place(),
        f.t("датчик занятости не меняется", "occupancy sensor does not change")
        + f" {f.lasting()} ({f.since()})",
        _parking_numbers(f),
    )


def _parking_full(f: Facts) -> str:
    return _join(
        f.place(),
        f.t("парковка заполнена", "lot is full") + f" {f.lasting()} ({f.since()})",
        _parking_numbers(f),
    )


def _limit_kind(f: Facts) -> str:
    kind = f.ev_text("limit_kind", "limit", "rule", "averaging")
    return pick(_LIMIT_KINDS[kind], f.locale) if kind in _LIMIT_KINDS else ""


def _air_quality(f: Facts) -> str:
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


def _sensor_drift(f: Facts) -> str:
    metric = f.metric()
    offset = f.ev_float("offset")
    reference = f.ev_text("reference")
    ref = pick(METRICS.get(reference, (reference, reference)), f.locale) if reference else ""
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


def _anomaly(f: Facts) -> str:
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


def _invalid_data(f: Facts) -> str:
    metric = f.metric()
    value = f.value()
    shown = f.t(f"«{metric}»", metric) + f" = {value}" if metric and value else metric or value
    reason = f.ev_text("reason")
    why = pick(_INVALID_REASONS[reason], f.locale) if reason in _INVALID_REASONS else reason
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


_TITLES: Mapping[IncidentType, Callable[[Facts], str]] = {
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

    def _facts(self, incident: Incident, device: Device, locale: str) -> Facts:
        return Facts(
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
