"""Appeal texts for every incident type, in Russian and English: specific and readable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from appeals import (
    Texts,
    format_duration,
    format_number,
    format_quantity,
    format_unit,
    load_routing,
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
            "фаза «красный» не переключается 7 мин",
            "(с 08:14)",
        ],
        [
            "Traffic signal at ул. Кирова — ул. Театральная",
            "red phase does not change for 7 min",
            "since 08:14",
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
        ["перекрёстке ул. Ленина — ул. Пушкина", "жёлтый мигающий", "25 мин", "с 08:14"],
        ["ул. Ленина — ул. Пушкина", "flashing yellow for 25 min", "since 08:14"],
    ),
    (
        IncidentType.SIGNAL_DARK,
        "tl-marksa-moskovskaya",
        {"minutes": 130},
        ["ул. Карла Маркса — ул. Московская", "светофор не работает 2 ч 10 мин", "с 08:14"],
        ["signal is dark for 2 h 10 min", "since 08:14"],
    ),
    (
        IncidentType.LAMP_FAULT,
        "tl-gagarina-suvorova",
        {"evidence": {"lamp": "красный, направление 2", "reports": 3}},
        ["ул. Гагарина — ул. Суворова", "неисправность лампы (красный, направление 2)", "с 08:14"],
        ["lamp failure", "since 08:14"],
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
            "связь потеряна, нет данных 25 мин",
            "с 08:14",
            "интервале передачи 1 мин",
        ],
        [
            "Camera on ул. Пушкина, approach from the north",
            "connection lost, no data for 25 min",
            "since 08:14",
        ],
    ),
    (
        IncidentType.FROZEN_VALUES,
        "eco-leninsky-1",
        {"value": 2700.0, "unit": "s", "evidence": {"metric": "pm10", "repeats": 45}},
        [
            "Пост наблюдения «Театральная» (ул. Театральная, 13)",
            "показания «PM10» не меняются 45 мин",
            "с 08:14",
        ],
        ["PM10 readings do not change for 45 min", "since 08:14"],
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
            "не видит транспорт",
            f"0{NB}авт. при обычных 41{NB}авт.",
            "с 08:14",
        ],
        ["camera sees no traffic", f"0{NB}vehicles against a usual 41{NB}vehicles"],
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
            "затор",
            f"средняя скорость 7,5{NB}км/ч при пороге затора 15{NB}км/ч",
            "загрузка полосы 86 %",
            "40 мин (с 08:14)",
        ],
        [
            "congestion",
            f"average speed 7.5{NB}km/h, congested below 15{NB}km/h",
            "lane occupancy 86 %",
            "for 40 min",
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
            "датчик занятости не меняется 6 ч",
            "занято 120 из 320 мест",
        ],
        ["occupancy sensor does not change for 6 h", "120 of 320 spaces taken"],
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
            "заполнена 2 ч 10 мин",
            "занято 150 из 150 мест",
        ],
        ["lot is full for 2 h 10 min", "150 of 150 spaces taken"],
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
            "с 08:14",
        ],
        [
            "Air quality limit exceeded: PM10 0.42 mg/m³ against the maximum single limit of 0.3 mg/m³",
            "since 08:14",
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
            "дрейф показаний «PM2.5»",
            "смещение 0,013 мг/м³ относительно «PM10»",
        ],
        ["readings drift of PM2.5", "offset 0.013 mg/m³ against PM10"],
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
            "нетипичные показания «интенсивность движения»",
            f"250{NB}авт. при обычных 80{NB}авт.",
            "оценка 0,97 при пороге 0,9",
        ],
        [
            "unusual readings of traffic volume",
            "250 vehicles against a usual 80 vehicles",
            "score 0.97 over threshold 0.9",
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
            "некорректные данные «CO» = 21" + NB + "000" + NB + "мг/м³",
            "значение вне допустимого диапазона",
            "co 21000 > 5000",
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
    assert "test-detector" in ru.description
    assert "25.11.2026 08:14 (Europe/Moscow)" in ru.description
    assert "Started: 25.11.2026 08:14" in en.description


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


def test_times_follow_the_configured_zone_and_show_the_date_on_another_day() -> None:
    device = city_devices()["tl-kirova-teatralnaya"]
    incident = make_incident(
        IncidentType.STUCK_PHASE, device.id, evidence={"phase": "green"}, minutes=26 * 60
    )
    title = Texts(timezone="Asia/Yekaterinburg").render(incident, device).title
    assert "с 10:14 25.11.2026" in title  # UTC+5, and the last alarm is a day later
    assert f"фаза «зелёный» не переключается 1{NB}сут 2{NB}ч" in title


def test_number_and_duration_formats() -> None:
    assert format_number(0.21) == "0,21"
    assert format_number(0.21, "en") == "0.21"
    assert format_number(21000.0) == f"21{NB}000"
    assert format_number(21000.0, "en") == "21,000"
    assert format_number(-0.0001) == "0"
    assert format_duration(45) == f"45{NB}с"
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
    assert format_quantity(3.0, "") == "3"
    assert format_quantity(None, "s") == format_quantity(float("nan"), "s") == ""
    assert format_unit("µg/m³") == "мкг/м³"
    assert format_unit("vehicles", "en") == "vehicles"
    assert format_unit("furlongs") == "furlongs"


def test_notes() -> None:
    texts = Texts()
    assert (
        texts.resolved_note(T0 + timedelta(minutes=48))
        == "Датчики: показатели в норме с 09:02 25.11.2026"
    )
    incident = make_incident(IncidentType.CONGESTION, "x", value=5.0, unit="km/h", severity=4)
    assert "приоритет повышен до 4" in texts.escalated_note(incident, 4)
    assert "сейчас 5" in texts.escalated_note(incident, 4)
