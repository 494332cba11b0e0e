"""Appeal titles and descriptions an operator can act on: what, where, since when, how bad.

Russian by default, English too.  Numbers use the locale's decimal mark (``0,21`` in
Russian), times the region's time zone with its name (``с 10:28 МСК``).  Texts depend
only on the incident and the device, never on the wall clock, so the same incident
always reads the same; and since an appeal's text is written once, when the incident
opens, it never says how long the incident has lasted so far: the status notes
(:meth:`Texts.escalated_note`, :meth:`Texts.resolved_note`) carry that.  No text names
a detector, a reading field's key, an enum member or a score: what was observed is said
in words (``tests/appeals/test_text_rules.py`` holds every type to these rules).

What a text uses from an incident: ``value``, ``limit_value``, ``unit``, ``started_at``
and, from ``evidence`` when present, ``since`` (when the condition began), ``metric``
(a reading field: pm10, average_vehicle_speed, ..., named in words), ``phase``,
``averaging`` and ``averaging_s`` (which ПДК), ``reason``, ``last_seen`` and
``expected_interval_s`` (silence), ``expected_per_interval`` (a blocked camera),
``occupancy`` (congestion), ``occupied``/``total`` (parking), ``offset`` and
``reference`` (drift), ``expected`` (anomaly), ``reason`` (invalid data), ``lamp``: the
keys ``detectors._incidents`` documents.  Any of them may be missing: the sentence is
then shorter, never wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from appeals._facts import METRICS, NBSP, SEVERITIES, Facts, format_duration, pick
from citypulse import AIR_LIMITS, Device, DeviceKind, Incident, IncidentType

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
    name = pick(_PHASES[phase], f.locale) if phase in _PHASES else ""
    what = (
        f.t(f"фаза «{name}» не переключается", f"the {name} phase has not changed")
        if name
        else f.t("фаза не переключается", "the phase has not changed")
    )
    limit = f.limit()
    allowed = f.t(f"допустимо не более {limit}", f"{limit} at most") if limit else ""
    return _join(f.place(), f"{what} {f.since()}", allowed)


def _signal_flashing(f: Facts) -> str:
    return _join(
        f.place(),
        f.t("режим «жёлтый мигающий»", "flashing yellow") + f" {f.since()}",
    )


def _signal_dark(f: Facts) -> str:
    return _join(f.place(), f.t("светофор не работает", "signal dark") + f" {f.since()}")


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
    last = f.seen_at("last_seen")
    heard = (
        f.t("последние данные в ", "last data at ") + f.clock(last)
        if last is not None and last < f.began()
        else ""
    )
    return _join(
        f.place(),
        f"{what} {f.since()}",
        heard,
        f.t(
            "устройство передаёт данные "
            + ("раз в минуту" if expected == 60 else f"раз в {format_duration(expected, 'ru')}"),
            "reports expected every "
            + ("minute" if expected == 60 else format_duration(expected, "en")),
        ),
    )


def _frozen_values(f: Facts) -> str:
    metric = f.metric()
    if f.metric_key() == "camera_report":
        what = f.t("камера передаёт одни и те же показания", "camera has sent the same readings")
    elif metric:
        what = f.t(f"показания «{metric}» не меняются", f"{metric} readings have not changed")
    else:
        what = f.t("показания не меняются", "readings have not changed")
    return _join(f.place(), f"{what} {f.since()}")


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
            "camera has seen no traffic (lens may be blocked)",
        )
        + f" {f.since()}",
        counts,
    )


def _congestion(f: Facts) -> str:
    metric = f.metric() or f.t("средняя скорость", "average speed")
    value, limit = f.value(), f.limit()
    speed = ""
    if value:
        speed = f.t(f"{metric} упала до {value}", f"{metric} down to {value}") + (
            f.t(f" при пороге затора {limit}", f", congested below {limit}") if limit else ""
        )
    occupancy = f.ev_float("occupancy")
    load = ""
    if occupancy is not None and 0 <= occupancy <= 1:
        load = f.t("загрузка полосы ", "lane occupancy ") + f"{f.num(occupancy * 100)}{NBSP}%"
    return _join(f.place(), f.t("затор ", "congestion ") + f.since(), speed, load)


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
        f.t("датчик занятости не меняется", "occupancy sensor has not changed") + f" {f.since()}",
        _parking_numbers(f),
    )


def _parking_full(f: Facts) -> str:
    return _join(
        f.place(),
        f.t("парковка заполнена", "lot full") + f" {f.since()}",
        _parking_numbers(f),
    )


def _limit_kind(f: Facts) -> tuple[str, str]:
    """Which ПДК, as (adjective, averaging): the maximum single, the daily average or, for
    ozone, whose ПДК с.с. column СанПиН 1.2.3685-21 marks «8 час.», the 8-hour average
    (no adjective then: «при ПДК 0,1 мг/м³ (средняя за 8 ч)»)."""
    kind = f.ev_text("averaging", "limit_kind", "limit", "rule")
    if kind == "daily":
        limit = AIR_LIMITS.get(f.metric_key())
        period = f.ev_float("averaging_s") or (limit.daily_averaging_s if limit else 86400.0)
        if period < 86400.0:
            hours = f.num(period / 3600)
            return "", f.t(f"средняя за {hours}{NBSP}ч", f"{hours}-hour average")
    return (pick(_LIMIT_KINDS[kind], f.locale) if kind in _LIMIT_KINDS else ""), ""


def _air_quality(f: Facts) -> str:
    metric = f.metric() or f.t("загрязняющее вещество", "pollutant")
    if f.metric_key() == "laeq":
        head = f.t("Превышение допустимого уровня шума", "Noise above the permitted level")
        return _join(head, f.compared("при норме", "against"), f.place(), f.since())
    kind, period = _limit_kind(f)
    against = f.t(f"при {kind} ПДК" if kind else "при ПДК", f"against {kind or 'the limit of'}")
    if period:
        against = f.t("при ПДК", f"against the {period} limit of")
    value, limit = f.value(), f.limit()
    amount = f"{metric} {value}" if value else metric
    if limit:
        amount += f" {against} {limit}" + (f.t(f" ({period})", "") if period else "")
    ratio = f.ratio()
    if ratio:
        amount += f" ({ratio})"
    return _join(f.t("Превышение ПДК", "Air quality limit exceeded"), amount, f.place(), f.since())


def _sensor_drift(f: Facts) -> str:
    metric = f.metric()
    offset = f.ev_float("offset")
    reference = METRICS.get(f.ev_text("reference"))
    ref = pick(reference, f.locale) if reference else ""
    shift = ""
    if offset is not None:
        shift = f.t("смещение ", "offset ") + (f.qty(offset) or f.num(offset))
        if ref:
            shift += f.t(f" относительно «{ref}»", f" against {ref}")
    return _join(
        f.place(),
        f.t("дрейф показаний", "readings drift")
        + (f.t(f" «{metric}»", f" of {metric}") if metric else "")
        + f" {f.since()}",
        shift or f.compared("при сезонной норме", "against a seasonal norm of"),
    )


def _anomaly(f: Facts) -> str:
    metric = f.metric()
    if f.metric_key() == "flow_speed_occupancy":
        what = f.t(f"нетипичное {metric}", f"unusual {metric}")
    else:
        what = f.t("нетипичные показания", "unusual readings") + (
            f.t(f" «{metric}»", f" of {metric}") if metric else ""
        )
    compared = f.compared("при обычных", "against a usual")
    expected = f.ev_float("expected")
    if f.value() and not f.limit() and expected is not None:
        compared = f.t(
            f"{f.value()} при обычных {f.qty(expected)}",
            f"{f.value()} against a usual {f.qty(expected)}",
        )
    return _join(f.place(), f"{what} {f.since()}", compared)


_INVALID_REASONS = {
    "out_of_range": ("значение вне допустимого диапазона", "value out of range"),
    "invalid_json": ("нечитаемое сообщение", "unreadable message"),
    "invalid_utf8": ("нечитаемое сообщение", "unreadable message"),
    "inconsistent": ("противоречивые показания", "inconsistent readings"),
    "schema": ("сообщение не соответствует формату", "message does not match the format"),
    "wrong_type": ("значение не того типа", "value of the wrong type"),
    "missing_field": ("в сообщении не хватает показаний", "readings missing from the message"),
    "unknown_field": ("в сообщении неизвестные поля", "unknown fields in the message"),
    "not_an_object": ("сообщение не соответствует формату", "message does not match the format"),
    "not_finite": ("значение не является числом", "value is not a number"),
    "bad_time": ("неверное время в сообщении", "wrong time in the message"),
    "time_in_future": ("время сообщения в будущем", "message time in the future"),
    "time_too_old": ("слишком старое сообщение", "message too old"),
    "payload_too_large": ("слишком большое сообщение", "message too large"),
    "too_deep": ("сообщение не соответствует формату", "message does not match the format"),
    "duplicate_key": ("повторяющиеся поля в сообщении", "repeated fields in the message"),
    "bad_topic": ("сообщение в неверный канал", "message sent to a wrong topic"),
    "unknown_kind": ("неизвестный тип устройства", "unknown device kind"),
    "unknown_device": ("устройство не зарегистрировано", "device not registered"),
}


def _invalid_data(f: Facts) -> str:
    # The detail (a decoder's message) names fields and is kept in the evidence, not here.
    metric = f.metric()
    value = f.value()
    shown = f.t(f"«{metric}» = {value}", f"{metric} = {value}") if metric and value else metric
    if f.metric_key() == "camera_report":
        shown = ""
    reason = f.ev_text("reason")
    why = pick(_INVALID_REASONS.get(reason, _INVALID_OTHER), f.locale)
    if f.metric_key() == "camera_report" and reason == "inconsistent":
        why = f.t(
            "показания камеры противоречат друг другу (поток, скорость, загрузка)",
            "camera readings contradict each other (flow, speed, occupancy)",
        )
    return _join(
        f.place(),
        f.t("некорректные данные", "invalid data")
        + (f" {shown}" if shown else "")
        + f" {f.since()}",
        why,
        f.t(f"допустимо не более {f.limit()}", f"at most {f.limit()} is possible")
        if f.limit()
        else "",
    )


_INVALID_OTHER = ("ошибка в данных устройства", "error in the device's data")


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


#: What is wrong, in a few words, for the status notes.
_SHORT: Mapping[IncidentType, tuple[str, str]] = {
    IncidentType.STUCK_PHASE: ("фаза светофора не переключается", "stuck signal phase"),
    IncidentType.SIGNAL_FLASHING: ("светофор в режиме «жёлтый мигающий»", "flashing yellow"),
    IncidentType.SIGNAL_DARK: ("светофор не работает", "dark signal"),
    IncidentType.LAMP_FAULT: ("неисправность лампы", "lamp failure"),
    IncidentType.DEVICE_SILENT: ("нет данных от устройства", "no data from the device"),
    IncidentType.FROZEN_VALUES: ("показания не меняются", "frozen readings"),
    IncidentType.CAMERA_OBSTRUCTED: ("камера не видит транспорт", "no traffic seen by the camera"),
    IncidentType.CONGESTION: ("затор", "congestion"),
    IncidentType.PARKING_STUCK: ("датчик парковки не меняется", "stuck parking sensor"),
    IncidentType.PARKING_FULL: ("парковка заполнена", "full lot"),
    IncidentType.AIR_QUALITY_EXCEEDANCE: ("превышение ПДК", "air quality limit exceeded"),
    IncidentType.SENSOR_DRIFT: ("дрейф показаний", "readings drift"),
    IncidentType.ANOMALY: ("нетипичные показания", "unusual readings"),
    IncidentType.INVALID_DATA: ("некорректные данные", "invalid data"),
}
#: Types whose limit is a limit (not a usual level): notes show the value against it.
_AGAINST: Mapping[IncidentType, tuple[str, str]] = {
    IncidentType.AIR_QUALITY_EXCEEDANCE: (" при ПДК ", " against a limit of "),
    IncidentType.CONGESTION: (" при пороге затора ", ", congested below "),
}


class Texts:
    """Renders appeal texts and status notes in the region's time zone; ``locale`` is
    ``ru`` or ``en``.

    An appeal's text is written once, when the incident opens, so it says since when,
    never for how long so far; the notes carry what happens next: an escalation (how
    long by then, the value by then) and the recovery with the total duration.
    """

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
        title = _TITLES.get(incident.type, _other)(f)
        lines = [_sentence(title)]
        where = ", ".join(x for x in (device.address, f.district) if x)
        if where:
            lines.append(f.t("Адрес: ", "Address: ") + _sentence(where))
        lines.append(f.t("Начало: ", "Started: ") + f.stamp(f.began()) + ".")
        # The value and the limit are in the title; a duration-valued incident's value is
        # how long it had lasted when read (never shown), its limit when the alarm starts.
        if f.duration_valued and f.limit() and f.limit() not in title:
            lines.append(f.t("Порог срабатывания: ", "Alarm after: ") + _sentence(f.limit()))
        lines.append(
            f.t("Источник: автоматический контроль показаний устройства ", "Source: ")
            + device.id
            + f.t("", "'s readings, checked automatically")
            + "."
        )
        if incident.note:
            lines.append(incident.note)
        return AppealText(title=title, description="\n".join(lines))

    def _what(self, incident: Incident, locale: str) -> str:
        return pick(_SHORT.get(incident.type, ("инцидент", "incident")), locale)

    def escalated_note(
        self, incident: Incident, priority: int, *, device: Device | None = None, locale: str = "ru"
    ) -> str:
        """«Эскалация в 12:52 МСК: светофор не работает с 10:28 МСК, уже 2 ч 24 мин; …»:
        what got worse, since when and how long by the time of the note."""
        f = self._facts(incident, device or _NO_DEVICE, locale)
        at, began = incident.last_alarm_at, f.began()
        lasted = format_duration((at - began).total_seconds(), f.locale)
        severity = pick(SEVERITIES.get(incident.severity, (str(incident.severity),) * 2), f.locale)
        head = f.t("Эскалация в ", "Escalated at ") + f.clock(at, at) + ": "
        what = (
            self._what(incident, f.locale)
            + " "
            + f.t("с ", "since ")
            + f.clock(began, at)
            + f.t(f", уже {lasted}", f", {lasted} by then")
        )
        now = ""
        if not f.duration_valued and f.incident.unit and f.value():
            now = f.t("значение ", "value ") + f.value()
            against = _AGAINST.get(incident.type)
            if against and f.limit():
                now += pick(against, f.locale) + f.limit()
                if f.ratio():
                    now += f" ({f.ratio()})"
        level = f.t(
            f"тяжесть — {severity}, приоритет повышен до {priority}",
            f"severity {severity}, priority raised to {priority}",
        )
        return head + _sentence("; ".join(x for x in (what, now, level) if x))

    def resolved_note(
        self, incident: Incident, *, device: Device | None = None, locale: str = "ru"
    ) -> str:
        """«Датчики: восстановлено в 12:52 МСК, всего 2 ч 24 мин …»: when the condition
        was last seen, how long it lasted in all, and when the sensors confirmed it."""
        f = self._facts(incident, device or _NO_DEVICE, locale)
        end, began = incident.last_alarm_at, f.began()
        total = format_duration((end - began).total_seconds(), f.locale)
        note = f.t(
            f"Датчики: восстановлено в {f.clock(end, end)}, всего {total} "
            f"(с {f.clock(began, end)})",
            f"Sensors: back to normal at {f.clock(end, end)}, {total} in all "
            f"(since {f.clock(began, end)})",
        )
        confirmed = incident.resolved_at
        if confirmed is not None and (confirmed - end).total_seconds() >= 60:
            note += f.t(
                f"; норма подтверждена в {f.clock(confirmed, end)}",
                f"; confirmed normal at {f.clock(confirmed, end)}",
            )
        return note + "."


def _sentence(text: str) -> str:
    """``text.``, without doubling the point of an abbreviation (``авт.``)."""
    return text if text.endswith(".") else text + "."


def _other(f: Facts) -> str:
    """The title of an incident type that has no sentence of its own yet."""
    return _join(f.place(), f.t("отклонение в работе устройства ", "device fault ") + f.since())


_NO_DEVICE = Device(id="", kind=DeviceKind.ECOLOGY)
