"""The static HTML report on a database filled with a simulated city."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest

from lab._report import write_report
from simulator import Fault, FaultType, Simulation, preset_city
from tests._simdata import store_simulation

MSK = timezone(timedelta(hours=3))
START = datetime(2026, 11, 24, 6, 0, tzinfo=MSK)
END = START + timedelta(hours=6)
SMOG = "Превышение ПДК взвешенных частиц PM2.5 у поста «Московская»"
CITIZEN = "Не работает светофор на перекрёстке Кирова и Ленина"
PHONE = "+7 900 123 45 67"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


@pytest.fixture
def filled_db(db_url: str) -> str:
    city = preset_city()
    smog = Fault(
        id="smog", type=FaultType.AIR_QUALITY_EXCEEDANCE, devices=("eco-oktyabrsky-1",),
        start=START + timedelta(hours=1), end=START + timedelta(hours=3),
        params={"pollutant": "pm25", "level": 230.0},
    )  # fmt: skip
    sim = Simulation(city, start=START, end=END, seed=2, faults=[smog])
    assert store_simulation(db_url, sim) > 10_000
    with psycopg.connect(db_url) as conn:
        (incident,) = conn.execute(
            "INSERT INTO incidents (type, device_id, severity, started_at, last_alarm_at, "
            "detector, score, threshold, value, limit_value, unit) VALUES "
            "('air_quality_exceedance', 'eco-oktyabrsky-1', 3, %s, %s, 'rules', 1, 0.5, "
            "231.5, 160, 'µg/m³') RETURNING id",
            (START + timedelta(hours=1, minutes=20), START + timedelta(hours=2)),
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            "INSERT INTO appeals (source, sector, service_code, title, incident_id, agency) "
            "VALUES ('sensor', 'Экология', 'air', %s, %s, 'Минприроды')",
            (SMOG, incident),
        )
        conn.execute(
            "INSERT INTO appeals (source, channel, external_id, sector, service_code, title, "
            "lat, lon, requested_at, contact) VALUES ('citizen', 'pos', 'c-1', 'Дороги', "
            "'road', %s, 54.51, 36.25, %s, jsonb_build_object('phone', %s::text))",
            (CITIZEN, START + timedelta(hours=2), PHONE),
        )
        conn.commit()
    return db_url


def test_report_is_self_contained_and_shows_the_period(filled_db: str, tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.html"
    with psycopg.connect(filled_db) as conn:
        summary = write_report(conn, path, start=START, end=END)
        readings = sum(
            conn.execute(f"SELECT count(*) FROM {t} WHERE time >= %s AND time < %s",
                         (START, END)).fetchone()[0]  # type: ignore[index]
            for t in ("traffic_light_readings", "camera_readings", "parking_readings",
                      "ecology_readings")
        )  # fmt: skip
        devices = conn.execute("SELECT count(*) FROM devices").fetchone()[0]  # type: ignore[index]
    html = path.read_text(encoding="utf-8")
    assert summary.path == path
    assert (summary.devices, summary.readings, summary.incidents, summary.appeals) == (
        devices, readings, 1, 2,
    )  # fmt: skip
    parser = Tags()
    parser.feed(html)
    # Self-contained: no scripts, no external stylesheets, images or fonts.
    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert "img" not in parser.tags
    assert not any(name in ("src", "href") for name, _ in parser.attrs)
    assert not re.search(r"https?://", html)
    assert parser.tags.count("svg") == 7  # flow ×2, speed, PM2.5, PM10, NO2, map
    # Traffic per district, air against the limits, the incident with its appeal.
    for district in ("leninsky", "moskovsky", "oktyabrsky"):
        assert district in html
    assert "ПДК м.р. 160" in html
    assert "ПДК м.р. 300" in html
    assert "ПДК м.р. 200" in html
    assert SMOG in html
    assert CITIZEN in html
    assert "air quality exceedance" in html
    assert '<td class="bad">' in html  # the smog station's PM2.5 maximum is over the limit
    assert f"{readings:,}".replace(",", "\u202f") in html
    assert "24.11.2026 06:00 – 24.11.2026 12:00" in html
    assert PHONE not in html  # citizens' contact details are never shown


def test_an_empty_period_still_makes_a_report(filled_db: str, tmp_path: Path) -> None:
    later = START - timedelta(days=30)  # before the data and the (still open) incident
    with psycopg.connect(filled_db) as conn:
        summary = write_report(
            conn, tmp_path / "r.html", start=later, end=later + timedelta(hours=1)
        )
        with pytest.raises(ValueError, match="UTC offset"):
            write_report(conn, tmp_path / "x.html", start=later.replace(tzinfo=None), end=later)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert summary.readings == 0
    assert summary.incidents == 0
    assert "No camera readings in the period." in html
    assert "No ecology readings in the period." in html
    assert "No incidents in the period." in html
