"""Appeal texts for every incident type, in Russian and English: specific and readable."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appeals import (
    Texts,
    format_duration,
    format_number,
    format_quantity,
    format_unit,
    load_routing,
    utc_offset,
    zone_label,
)
from citypulse import IncidentType
from tests.appeals._devices import T0, city_devices, make_incident

NB = "\u00a0"

# type, device, incident fields, Russian title fragments, English title fragments
CASES: list[tuple[IncidentType, str, dict[str, object], list[str], list[str]]] = [
    (
        IncidentType.STUCK_PHASE,
        "tl-kirova-teatralnaya",
        {"value": 420.0, "limit_value": 120.0, "unit": "s", "evidence": {"phase": "red"}},
        [
            "Светофорный объект на перекрёстке ул. Кирова — ул. Театральная",
            "фаза «красный» не переключается с 08:14 МСК",
            "допустимо не более 2 мин",
        ],
        [
            "Traffic signal at ул. Кирова — ул. Театральная",
            "red phase has not changed since 08:14 MSK",
        ],
    ),
    (
        IncidentType.SIGNAL_FLASHING,
        "tl-lenina-pushkina",
        {
            "value": 1500.0,
            "unit": "s",
            "evidence": {"phase": "flashing_yellow", "controller_mode": "fallback"},
        },
        ["перекрёстке ул. Ленина — ул. Пушкина", "режим «жёлтый мигающий» с 08:14 МСК"],
        ["ул. Ленина — ул. Пушкина", "flashing yellow since 08:14 MSK"],
    ),
    (
        IncidentType.SIGNAL_DARK,
        "tl-marksa-moskovskaya",
        {"minutes": 130},
        ["ул. Карла Маркса — ул. Московская", "светофор не работает с 08:14 МСК"],
        ["signal dark since 08:14 MSK"],
    ),
    (
        IncidentType.LAMP_FAULT,
        "tl-gagarina-suvorova",
        {"evidence": {"lamp": "красный, направление 2", "reports": 3}},
        [
            "ул. Гагарина — ул. Суворова",
            "неисправность лампы (красный, направление 2) с 08:14 МСК",
        ],
        ["lamp failure", "since 08:14 MSK"],
    ),
    (
        IncidentType.DEVICE_SILENT,
        "cam-kirova-pushkina-n",
        {
            "value": 1500.0,
            "limit_value": 180.0,
            "unit": "s",
            "evidence": {"expected_interval_s": 60, "reason": "last_will"},
        },
        [
            "Камера ул. Пушкина, подход с севера к перекрёстку ул. Кирова — ул. Пушкина",
            "связь потеряна, нет данных с 08:14 МСК",
            "устройство передаёт данные раз в минуту",
        ],
        [
            "Camera on ул. Пушкина, approach from the north",
            "connection lost, no data since 08:14 MSK",
        ],
    ),
    (
        IncidentType.FROZEN_VALUES,
        "eco-leninsky-1",
        {"value": 2700.0, "unit": "s", "evidence": {"metric": "pm10", "repeats": 45}},
        [
            "Пост наблюдения «Театральная» (ул. Театральная, 13)",
            "показания «PM10» не меняются с 08:14 МСК",
        ],
        ["PM10 readings have not changed since 08:14 MSK"],
    ),
    (
        IncidentType.CAMERA_OBSTRUCTED,
        "cam-kirova-teatralnaya-e",
        {
            "value": 0.0,
            "unit": "vehicles",
            "evidence": {"metric": "intensity", "expected_per_interval": 41.0, "lane_id": 0},
        },
        [
            "Камера ул. Кирова, подход с востока",
            "не видит транспорт (возможно, закрыт объектив) с 08:14 МСК",
            f"0{NB}авт. при обычных 41{NB}авт.",
        ],
        ["camera has seen no traffic", f"0{NB}vehicles against a usual 41{NB}vehicles"],
    ),
    (
        IncidentType.CONGESTION,
        "cam-lenina-moskovskaya-w",
        {
            "value": 7.5,
            "limit_value": 15.0,
            "unit": "km/h",
            "minutes": 40,
            "evidence": {"metric": "average_vehicle_speed", "occupancy": 0.86, "lane_id": 1},
        },
        [
            "затор с 08:14 МСК",
            f"средняя скорость упала до 7,5{NB}км/ч при пороге затора 15{NB}км/ч",
            "загрузка полосы 86 %",
        ],
        [
            "congestion since 08:14 MSK",
            f"average speed down to 7.5{NB}km/h, congested below 15{NB}km/h",
            "lane occupancy 86 %",
        ],
    ),
    (
        IncidentType.PARKING_STUCK,
        "pk-leninsky-1",
        {
            "value": 120.0,
            "unit": "spots",
            "minutes": 360,
            "evidence": {"metric": "occupied_spot_number"},
        },
        [
            "Парковка ТЦ «Европейский» (ул. Кирова, 1)",
            "датчик занятости не меняется с 08:14 МСК",
            "занято 120 из 320 мест",
        ],
        ["occupancy sensor has not changed since 08:14 MSK", "120 of 320 spaces taken"],
    ),
    (
        IncidentType.PARKING_FULL,
        "pk-oktyabrsky-1",
        {
            "value": 150.0,
            "limit_value": 150.0,
            "unit": "spots",
            "minutes": 130,
            "evidence": {"total": 150},
        },
        [
            "Парковка у площади Победы (ул. Московская, 20)",
            "заполнена с 08:14 МСК",
            "занято 150 из 150 мест",
        ],
        ["lot full since 08:14 MSK", "150 of 150 spaces taken"],
    ),
    (
        IncidentType.AIR_QUALITY_EXCEEDANCE,
        "eco-oktyabrsky-1",
        {
            "value": 0.42,
            "limit_value": 0.3,
            "unit": "mg/m³",
            "evidence": {
                "metric": "pm10",
                "averaging": "max_single",
                "standard": "СанПиН 1.2.3685-21",
            },
        },
        [
            "Превышение ПДК: PM10 0,42 мг/м³ при максимальной разовой ПДК 0,3 мг/м³ (в 1,4 раза)",
            "Пост наблюдения «Московская» (ул. Московская, 55)",
            "с 08:14 МСК",
        ],
        [
            "Air quality limit exceeded: PM10 0.42 mg/m³ against the maximum single limit of 0.3 mg/m³",
            "since 08:14 MSK",
        ],
    ),
    (
        IncidentType.SENSOR_DRIFT,
        "eco-moskovsky-1",
        {
            "value": 62.0,
            "unit": "µg/m³",
            "evidence": {"metric": "pm25", "reference": "pm10", "offset": 12.5},
        },
        [
            "Пост наблюдения «Гагарина»",
            "дрейф показаний «PM2.5» с 08:14 МСК",
            "смещение 0,013 мг/м³ относительно «PM10»",
        ],
        ["readings drift of PM2.5 since 08:14 MSK", "offset 0.013 mg/m³ against PM10"],
    ),
    (
        IncidentType.ANOMALY,
        "cam-marksa-pushkina-e",
        {
            "value": 250.0,
            "unit": "vehicles",
            "evidence": {"metric": "intensity", "expected": 80.0, "z": 6.1},
        },
        [
            "нетипичные показания «интенсивность движения» с 08:14 МСК",
            f"250{NB}авт. при обычных 80{NB}авт.",
        ],
        [
            "unusual readings of traffic volume",
            "250 vehicles against a usual 80 vehicles",
        ],
    ),
    (
        IncidentType.INVALID_DATA,
        "eco-leninsky-1",
        {
            "value": 21000.0,
            "limit_value": 5000.0,
            "unit": "mg/m³",
            "evidence": {"metric": "co", "reason": "out_of_range", "detail": "co 21000 > 5000"},
        },
        [
            "некорректные данные «CO» = 21" + NB + "000" + NB + "мг/м³ с 08:14 МСК",
            "значение вне допустимого диапазона",
            f"допустимо не более 5{NB}000{NB}мг/м³",
        ],
        ["invalid data CO = 21,000" + NB + "mg/m³", "value out of range", "at most 5,000"],
    ),
]


def test_every_incident_type_has_a_case() -> None:
    assert {c[0] for c in CASES} == set(IncidentType)


@pytest.mark.parametrize("case", CASES, ids=[c[0].value for c in CASES])
def test_texts_are_specific(
    case: tuple[IncidentType, str, dict[str, object], list[str], list[str]],
) -> None:
    incident_type, device_id, fields, ru_parts, en_parts = case
    routing = load_routing()
    texts = Texts(timezone=routing.timezone, districts=routing.districts)
    device = city_devices()[device_id]
    incident = make_incident(incident_type, device_id, **fields)  # type: ignore[arg-type]
    ru = texts.render(incident, device)
    en = texts.render(incident, device, locale="en")
    # Numbers and units are joined by no-break spaces; compare with plain ones.
    for part in ru_parts:
        assert part.replace(NB, " ") in ru.title.replace(NB, " "), (part, ru.title)
    for part in en_parts:
        assert part.replace(NB, " ") in en.title.replace(NB, " "), (part, en.title)
    assert ru.title != en.title
    # The description says where (with the district's name) and who saw it.
    district = routing.district_name(device.district)
    assert district in ru.description
    assert device.address in ru.description
    assert device_id in ru.description
    assert "test-detector" not in ru.description + en.description  # a class name, never shown
    assert "Начало: 25.11.2026 08:14 МСК." in ru.description
    assert "Started: 2026-11-25 08:14 MSK." in en.description


@pytest.mark.parametrize("unit", ["", "s", "mg/m³"])
def test_missing_facts_shorten_the_text_but_keep_place_and_time(unit: str) -> None:
    texts = Texts()
    for incident_type in IncidentType:
        incident = make_incident(
            incident_type,
            "tl-kirova-teatralnaya",
            evidence={"junk": [1], "duration_s": float("nan"), "metric": 5},
            value=float("nan"),
            limit_value=float("inf"),
            unit=unit,
        )
        title = texts.render(incident, city_devices()["tl-kirova-teatralnaya"]).title
        assert "08:14" in title
        assert "None" not in title
        assert "nan" not in title


def test_times_follow_the_configured_zone_and_name_it() -> None:
    device = city_devices()["tl-kirova-teatralnaya"]
    incident = make_incident(
        IncidentType.STUCK_PHASE, device.id, evidence={"phase": "green"}, minutes=26 * 60
    )
    # Yekaterinburg is UTC+5, two hours ahead of Moscow: Russians call it МСК+2.
    texts = Texts(timezone="Asia/Yekaterinburg")
    assert "фаза «зелёный» не переключается с 10:14 МСК+2" in texts.render(incident, device).title
    assert "since 10:14 MSK+2" in texts.render(incident, device, locale="en").title
    # A zone outside Russia is named by its offset.
    assert "с 07:14 UTC+2" in Texts(timezone="Europe/Helsinki").render(incident, device).title
    # A note a day later gives the date of the start.
    resolved = texts.resolved_note(incident)
    assert resolved == (
        f"Датчики: восстановлено в 12:14 МСК+2, всего 1{NB}сут 2{NB}ч (с 25.11.2026 10:14 МСК+2)."
    )


def test_zone_labels() -> None:
    winter = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    assert zone_label(ZoneInfo("Europe/Moscow"), winter) == "МСК"
    assert zone_label(ZoneInfo("Europe/Moscow"), winter, "en") == "MSK"
    assert zone_label(ZoneInfo("Europe/Kaliningrad"), winter) == "МСК−1"
    assert zone_label(ZoneInfo("Asia/Kamchatka"), summer) == "МСК+9"
    assert zone_label(ZoneInfo("Europe/Berlin"), winter) == "UTC+1"
    assert zone_label(ZoneInfo("Europe/Berlin"), summer) == "UTC+2"
    assert zone_label(ZoneInfo("Asia/Kolkata"), summer) == "UTC+5:30"
    assert zone_label(ZoneInfo("UTC"), summer) == "UTC"
    # Moscow was UTC+4 in 2011-2014: its time is МСК whatever its offset from UTC.
    assert zone_label(ZoneInfo("Europe/Moscow"), datetime(2013, 1, 1, tzinfo=UTC)) == "МСК"
    assert utc_offset(ZoneInfo("Europe/Moscow"), datetime(2013, 1, 1, tzinfo=UTC)) == "UTC+4"


def test_number_and_duration_formats() -> None:
    assert format_number(0.21) == "0,21"
    assert format_number(0.21, "en") == "0.21"
    assert format_number(21000.0) == f"21{NB}000"
    assert format_number(21000.0, "en") == "21,000"
    assert format_number(-0.0001) == "0"
    assert format_duration(45) == "меньше минуты"  # never "45 с", nor "0 с"
    assert format_duration(0, "en") == "under a minute"
    assert format_duration(420) == f"7{NB}мин"
    assert format_duration(7800, "en") == f"2{NB}h 10{NB}min"
    assert format_duration(3 * 86400 + 4 * 3600 + 120) == f"3{NB}сут 4{NB}ч"


def test_quantity_formats() -> None:
    # A pollutant in µg/m³ is shown in mg/m³, the unit of its hygienic limit.
    assert format_quantity(231.5, "µg/m³", metric="pm25") == f"0,232{NB}мг/м³"
    assert format_quantity(231.5, "µg/m³", "en", metric="pm25") == f"0.232{NB}mg/m³"
    assert format_quantity(10018.0, "s") == f"2{NB}ч 47{NB}мин"
    assert format_quantity(0.86, "ratio", "en") == f"86{NB}%"
    assert format_quantity(7.5, "km/h") == f"7,5{NB}км/ч"
    assert format_quantity(6.77, "vehicles") == f"6,8{NB}авт."  # a learnt level, not 6,77 cars
    assert format_quantity(41.5, "vehicles", "en") == f"42{NB}vehicles"
    assert format_quantity(3.0, "") == "3"
    assert format_quantity(None, "s") == format_quantity(float("nan"), "s") == ""
    assert format_unit("µg/m³") == "мкг/м³"
    assert format_unit("vehicles", "en") == "vehicles"
    assert format_unit("furlongs") == "furlongs"


def test_notes() -> None:
    texts = Texts()
    # A signal dark from 10:28 to 12:52 (Moscow), confirmed normal two minutes later.
    dark = replace(
        make_incident(IncidentType.SIGNAL_DARK, "tl-kirova-teatralnaya", minutes=144, unit="s"),
        resolved_at=T0 + timedelta(minutes=146),
    )
    assert texts.resolved_note(dark) == (
        f"Датчики: восстановлено в 10:38 МСК, всего 2{NB}ч 24{NB}мин (с 08:14 МСК); "
        "норма подтверждена в 10:40 МСК."
    )
    assert texts.resolved_note(dark, locale="en") == (
        f"Sensors: back to normal at 10:38 MSK, 2{NB}h 24{NB}min in all (since 08:14 MSK); "
        "confirmed normal at 10:40 MSK."
    )
    incident = make_incident(
        IncidentType.CONGESTION,
        "x",
        value=5.0,
        limit_value=15.0,
        unit="km/h",
        severity=4,
        minutes=45,
        evidence={"metric": "average_vehicle_speed"},
    )
    assert texts.escalated_note(incident, 4) == (
        f"Эскалация в 08:59 МСК: затор с 08:14 МСК, уже 45{NB}мин; значение 5{NB}км/ч "
        f"при пороге затора 15{NB}км/ч; тяжесть — критическая, приоритет повышен до 4."
    )
