"""The rules every appeal text and status note keeps, for every incident type.

Each type is rendered at opening, escalation and resolution, in Russian and English,
with evidence as the detectors write it (a short and a long episode: 11 min and
2 h 24 min), and checked: no internal names (detector classes, reading fields, metric
keys, enum members), no scores, no seconds-only durations, every time with its zone,
nothing in an opening text that depends on how long the incident has lasted so far,
Russian texts in Russian and English ones without Cyrillic.  A new incident type is
covered as soon as it is in :class:`~citypulse.IncidentType`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appeals import Texts, format_duration, load_routing
from citypulse import (
    READING_TYPES,
    AppealSource,
    AppealStatus,
    Device,
    DeviceKind,
    Incident,
    IncidentStatus,
    IncidentType,
)
from tests.appeals._devices import city_devices

START = datetime(2026, 11, 25, 7, 28, tzinfo=UTC)  # 10:28 in Moscow
SHORT, LONG = 660.0, 2 * 3600.0 + 24 * 60.0  # 11 min, 2 h 24 min
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    """One kind of finding as a detector reports it; ``value`` None means "the duration"."""

    device: str
    detector: str
    metric: str
    value: float | None = None
    limit: float | None = None
    unit: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)
    lead_s: float = 0.0  # the condition began this long before the first alarm
    grows: bool = False  # value is the seconds the condition has lasted
    score: float = 1.0
    threshold: float = 0.5


_T = IncidentType
CASES: dict[IncidentType, list[Case]] = {
    _T.STUCK_PHASE: [
        Case("tl-kirova-teatralnaya", "StuckPhase", "phase_duration", limit=120.0, unit="s",
             extra={"phase": "red"}, lead_s=120.0, grows=True),
    ],
    _T.SIGNAL_FLASHING: [
        Case("tl-lenina-pushkina", "SignalDark", "phase", limit=60.0, unit="s", grows=True,
             extra={"phase": "flashing_yellow", "controller_mode": "fallback"}, lead_s=60.0),
    ],
    _T.SIGNAL_DARK: [
        Case("tl-marksa-moskovskaya", "SignalDark", "phase", limit=60.0, unit="s", grows=True,
             extra={"phase": "off", "controller_mode": None}, lead_s=60.0),
    ],
    _T.LAMP_FAULT: [
        Case("tl-gagarina-suvorova", "LampFault", "lamp_fault", 3.0, 3.0, extra={"reports": 3}),
    ],
    _T.DEVICE_SILENT: [
        Case("cam-kirova-pushkina-n", "Silence", "reading_interval", limit=180.0, unit="s",
             grows=True, lead_s=60.0,
             extra={"reason": "silence", "last_seen": "2026-11-25T07:27:00+00:00",
                    "expected_interval_s": 60.0}),
        Case("eco-leninsky-1", "DeviceStatus", "online", 0.0, unit="s",
             extra={"reason": "status", "last_seen": "2026-11-25T07:28:00+00:00"}),
        Case("pk-leninsky-1", "Silence", "reading_interval", limit=900.0, unit="s", grows=True,
             extra={"reason": "last_will", "expected_interval_s": 300.0}, lead_s=300.0),
    ],
    _T.FROZEN_VALUES: [
        Case("cam-kirova-teatralnaya-e", "Repeats", "camera_report", unit="s", grows=True,
             extra={"lane_id": 0, "repeats": 12}),
    ],
    _T.CAMERA_OBSTRUCTED: [
        Case("cam-kirova-teatralnaya-e", "Collapse", "intensity", 0.0, 41.5, "vehicles",
             extra={"lane_id": 1, "expected_per_interval": 41.5}),
    ],
    _T.CONGESTION: [
        Case("cam-lenina-moskovskaya-w", "Jam", "average_vehicle_speed", 7.5, 15.0, "km/h",
             extra={"lane_id": 0, "occupancy": 0.86}),
    ],
    _T.PARKING_STUCK: [
        Case("pk-leninsky-1", "ParkingStuck", "occupied_spot_number", 120.0, None, "spots",
             extra={"unchanged_s": 5400.0}),
    ],
    _T.PARKING_FULL: [
        Case("pk-oktyabrsky-1", "FullForLong", "occupied_spot_number", 150.0, 150.0, "spots",
             extra={"total": 150.0}),
    ],
    _T.AIR_QUALITY_EXCEEDANCE: [
        Case("eco-oktyabrsky-1", "air_quality_rule", "pm10", 0.42, 0.3, "mg/m³",
             extra={"averaging": "max_single", "averaging_s": 1200.0,
                    "standard": "СанПиН 1.2.3685-21", "pollutant": "pm10"}),
        Case("eco-leninsky-1", "air_quality_rule", "o3", 0.124, 0.1, "mg/m³",
             extra={"averaging": "daily", "averaging_s": 28800.0,
                    "standard": "СанПиН 1.2.3685-21", "pollutant": "o3"}),
        Case("eco-moskovsky-1", "air_quality_rule", "pm25", 0.051, 0.035, "mg/m³",
             extra={"averaging": "daily", "averaging_s": 86400.0,
                    "standard": "СанПиН 1.2.3685-21", "pollutant": "pm25"}),
    ],
    _T.SENSOR_DRIFT: [
        Case("eco-moskovsky-1", "PairDrift", "pm25", 62.0, None, "µg/m³",
             extra={"reference": "pm10", "offset": 12.5}),
    ],
    _T.ANOMALY: [
        Case("cam-marksa-pushkina-e", "CountSpike", "intensity", 250.0, None, "vehicles",
             extra={"lane_id": 0, "expected": 80.0}),
        Case("cam-marksa-pushkina-e", "CameraIsolationForest", "flow_speed_occupancy",
             extra={"lane_id": 1}, score=0.83, threshold=0.7),
        Case("eco-oktyabrsky-1", "LogSpike", "no2", 180.0, None, "µg/m³",
             extra={"expected": 40.0, "z": 5.2}, score=0.99),
    ],
    _T.INVALID_DATA: [
        Case("cam-kirova-teatralnaya-e", "CameraConsistency", "camera_report",
             extra={"lane_id": 0, "reason": "inconsistent",
                    "detail": "intensity=12 speed=nan occupancy=0.4"}),
        Case("eco-leninsky-1", "ingest", "payload",
             extra={"reason": "out_of_range", "detail": "co=21000 is outside [0, 500]"}),
        Case("pk-leninsky-1", "ParkingConsistency", "occupied_spot_number", 330.0, 320.0,
             extra={"reason": "inconsistent", "detail": "330 of 320 occupied"}),
        Case("eco-leninsky-1", "ingest", "payload",
             extra={"reason": "invalid_json", "detail": "not valid JSON: {'pm25'"}),
    ],
}  # fmt: skip


def _cases(itype: IncidentType) -> list[Case]:
    """The type's cases; a type nobody wrote one for yet gets a bare finding."""
    return CASES.get(itype) or [Case("cam-kirova-teatralnaya-e", "SomeDetector", "some_field")]


def incident(itype: IncidentType, case: Case, elapsed: float, *, severity: int = 2) -> Incident:
    """The incident as the tracker stores it after ``elapsed`` seconds of alarms."""
    since = START - timedelta(seconds=case.lead_s)
    last = START + timedelta(seconds=elapsed)
    value = (last - since).total_seconds() if case.grows else case.value
    evidence: dict[str, object] = {
        "detector": case.detector,
        "metric": case.metric,
        "score": case.score,
        "threshold": case.threshold,
        "value": value,
        "limit": case.limit,
        "unit": case.unit,
        "since": since.isoformat(),
        "duration_s": (last - since).total_seconds(),
        "peak": value,
        "alarms": int(elapsed // 60) + 1,
        "readings": [[last.isoformat(), value]],
        **case.extra,
    }
    return Incident(
        id=17,
        type=itype,
        device_id=case.device,
        severity=severity,
        status=IncidentStatus.OPEN,
        started_at=START,
        last_alarm_at=last,
        detector=case.detector,
        score=case.score,
        threshold=case.threshold,
        value=value,
        limit_value=case.limit,
        unit=case.unit,
        evidence=evidence,
    )


# --- what counts as an internal name -------------------------------------------------------


def _source_names(pattern: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "detectors").glob("*.py"):
        found.update(re.findall(pattern, path.read_text(encoding="utf-8")))
    return found


def internal_names() -> set[str]:
    """Detector classes and the names findings carry, reading fields, metric keys, enum
    members: words an operator never uses."""
    names = _source_names(r"^class (\w+)") | _source_names(r'detector="(\w+)"')
    names |= _source_names(r'metric="(\w+)"')
    for case_list in CASES.values():
        for case in case_list:
            names |= {case.detector, case.metric, *case.extra}
    for reading in READING_TYPES.values():
        assert is_dataclass(reading)
        names |= {
            f.name for f in fields(reading) if "_" in f.name or any(c.isdigit() for c in f.name)
        }
    for enum in (IncidentType, DeviceKind, AppealStatus, AppealSource, IncidentStatus):
        for member in enum:
            names.add(member.name)
            if "_" in member.value:
                names.add(member.value)
    # A plain lowercase word (phase, occupancy, offset) is English too: English texts may
    # use it, and in a Russian text any Latin word fails anyway.
    return {n for n in names if len(n) > 2 and not (n.isalpha() and n.islower())}


INTERNAL = internal_names()
SNAKE = re.compile(r"\b[A-Za-z]+_[A-Za-z0-9_]+\b")
CAMEL = re.compile(r"\b[A-Z][a-z]+[A-Z]\w*\b")
SCORE = re.compile(r"оценк|\bscore|threshold|порог\w*\s+0[,.]\d", re.IGNORECASE)
SECONDS = re.compile(r"\d[\s\u00a0]*(?:с|сек|s|sec)\b(?![\s\u00a0]*\d)")
CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b(?![\s\u00a0]*(?:МСК|MSK|UTC))")
LATIN = re.compile(r"[A-Za-z]+")
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
ALLOWED_LATIN_RU = {"PM", "CO", "NO", "SO", "O"}  # PM2.5, PM10, CO, NO₂, SO₂, O₃


def _places(device: Device, district: str) -> list[str]:
    """The device's own words (names, addresses, streets): quoted, never translated."""
    raw = [device.id, device.name, device.address, district]
    raw += [v for v in device.attributes.values() if isinstance(v, str)]
    out: set[str] = set()
    for s in raw:
        if s:
            out |= {s, s.replace(" / ", " — ")}
            for part in re.split(r" / |, подход к | — |, ", s):
                out.add(part)
    return sorted((s for s in out if s), key=len, reverse=True)


def violations(text: str, locale: str, device: Device, district: str) -> list[str]:
    """What breaks the rules in ``text`` (empty when nothing does)."""
    return text_violations(text, locale, _places(device, district))


def text_violations(text: str, locale: str, places: list[str]) -> list[str]:
    """What breaks the rules in ``text``, whose ``places`` (names, addresses: the region's
    own words, longest first) are quoted as they are in either language."""
    bad: list[str] = []
    words = set(re.findall(r"\w+", text))
    bad += [f"internal name {n!r}" for n in sorted(INTERNAL & words)]
    rest = text
    for place in places:
        rest = rest.replace(place, " ")
    bad += [f"internal name {m!r}" for m in SNAKE.findall(rest)]
    bad += [f"class name {m!r}" for m in CAMEL.findall(rest)]
    bad += [f"score {m.group()!r}" for m in SCORE.finditer(text)]
    bad += [f"seconds {m.group()!r}" for m in SECONDS.finditer(text)]
    bad += [f"time without its zone {m.group()!r}" for m in CLOCK.finditer(text)]
    bad += [f"leftover {w!r}" for w in ("None", "nan", "inf", "{", "}") if w in words | set(text)]
    if locale == "ru":
        if not CYRILLIC.search(text):
            bad.append("no Cyrillic in a Russian text")
        bad += [f"English word {w!r}" for w in LATIN.findall(rest) if w not in ALLOWED_LATIN_RU]
    else:
        bad += [f"Cyrillic {m!r}" for m in re.findall(r"\S*[А-Яа-яЁё]\S*", rest)]
    return bad


# --- the rendered texts --------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    what: str
    text: str


def render_all(
    texts: Texts, itype: IncidentType, case: Case, device: Device, locale: str
) -> Iterator[Rendered]:
    for elapsed in (SHORT, LONG):
        opened = texts.render(incident(itype, case, elapsed), device, locale=locale)
        yield Rendered(f"title after {elapsed:g} s", opened.title)
        yield Rendered(f"description after {elapsed:g} s", opened.description)
    worse = incident(itype, case, LONG, severity=4)
    yield Rendered("escalation", texts.escalated_note(worse, 4, locale=locale))
    over = worse
    yield Rendered("resolution", texts.resolved_note(over, locale=locale))


PARAMS = [
    pytest.param(itype, locale, n, id=f"{itype.value}-{n}-{locale}")
    for itype in IncidentType
    for n in range(len(_cases(itype)))
    for locale in ("ru", "en")
]


@pytest.fixture(scope="module")
def texts() -> Texts:
    routing = load_routing()
    return Texts(timezone=routing.timezone, districts=routing.districts)


def _device(case: Case) -> Device:
    return city_devices()[case.device]


@pytest.mark.parametrize(("itype", "locale", "n"), PARAMS)
def test_texts_keep_the_rules(texts: Texts, itype: IncidentType, locale: str, n: int) -> None:
    case = _cases(itype)[n]
    device = _device(case)
    district = texts.districts.get(device.district, device.district)
    broken = {
        r.what: (r.text, found)
        for r in render_all(texts, itype, case, device, locale)
        if (found := violations(r.text, locale, device, district))
    }
    assert not broken, broken


@pytest.mark.parametrize(("itype", "locale", "n"), PARAMS)
def test_an_opening_text_stays_true_as_time_passes(
    texts: Texts, itype: IncidentType, locale: str, n: int
) -> None:
    """Rendered after 11 min or after 2 h 24 min of the same episode, an appeal says the
    same: since when, never "for how long so far"."""
    case = _cases(itype)[n]
    device = _device(case)
    short = texts.render(incident(itype, case, SHORT), device, locale=locale)
    long = texts.render(incident(itype, case, LONG), device, locale=locale)
    assert short == long
    for elapsed in (SHORT, SHORT + case.lead_s, LONG, LONG + case.lead_s):
        assert format_duration(elapsed, locale) not in short.title + short.description
    began = f"{START - timedelta(seconds=case.lead_s) + timedelta(hours=3):%H:%M}"
    since = f"с {began} МСК" if locale == "ru" else f"since {began} MSK"
    assert since in short.title.replace("\u00a0", " ")


@pytest.mark.parametrize(("itype", "locale", "n"), PARAMS)
def test_notes_say_what_happens_next(
    texts: Texts, itype: IncidentType, locale: str, n: int
) -> None:
    case = _cases(itype)[n]
    worse = incident(itype, case, LONG, severity=4)
    lasted = format_duration(LONG + case.lead_s, locale)
    zone = "МСК" if locale == "ru" else "MSK"
    began = f"{START - timedelta(seconds=case.lead_s) + timedelta(hours=3):%H:%M} {zone}"
    escalated = texts.escalated_note(worse, 4, locale=locale).replace("\u00a0", " ")
    assert f"12:52 {zone}" in escalated  # as of when it got worse
    assert began in escalated  # since when
    assert lasted.replace("\u00a0", " ") in escalated  # how long by then
    resolved = texts.resolved_note(worse, locale=locale).replace("\u00a0", " ")
    assert lasted.replace("\u00a0", " ") in resolved  # the whole episode, 2 h 24 min (+ lead)
    assert f"12:52 {zone}" in resolved
    assert began in resolved
