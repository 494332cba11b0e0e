"""The weekly analysis on a small known data set: its figures, trends, days and tension
points counted by hand, and its HTML in Russian (keeping the appeal texts' rules) and in
English."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from appeals import load_routing
from appeals.analysis import (
    Figure,
    SensorsFirst,
    WeeklyReport,
    last_full_week,
    render_week,
    weekly_report,
)
from citypulse.db import connect
from tests.appeals.analysis._week_data import (
    ECOLOGY,
    HOUSING,
    LENINSKY,
    MSK,
    NOW,
    ROADS,
    msk,
    write_week,
)
from tests.appeals.test_text_rules import ALLOWED_LATIN_RU, CLOCK, CYRILLIC, LATIN, SNAKE
from tests.console.test_browser import browser as browser  # the fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser

W48 = date(2026, 11, 23)


@dataclass(frozen=True, slots=True)
class _Rating:
    """A row as ``_ratings.ratings`` returns it (the contract's fields, in order)."""

    name: str
    received: int
    accept_median_s: float | None
    accept_p90_s: float | None
    resolve_median_s: float | None
    resolve_p90_s: float | None
    on_time_share: float | None
    overdue: int
    reopened: int
    sensor_share: float | None
    score: float | None
    rank: int | None


@dataclass(frozen=True, slots=True)
class _SensorsFirst:
    faults: int
    sensor_first: int
    share: float | None
    median_lead_s: float | None


RATINGS = (
    _Rating("Управление городского хозяйства г. Калуги", 12, 600.0, 1800.0, 7200.0, 36000.0,
            0.75, 2, 1, 0.25, 81.5, 1),
    _Rating("МКУ «Городские парковки»", 2, None, None, None, None, None, 0, 0, None, None, None),
)  # fmt: skip
SENSORS_FIRST = _SensorsFirst(faults=8, sensor_first=6, share=0.75, median_lead_s=2520.0)
SEEN: list[tuple[Any, ...]] = []


def _ratings(conn: psycopg.Connection[Any], since: Any, until: Any) -> tuple[_Rating, ...]:
    SEEN.append((since, until))
    return RATINGS


@pytest.fixture
def report(db_url: str) -> WeeklyReport:
    write_week(db_url)
    with connect(db_url) as conn:
        return weekly_report(
            conn,
            load_routing(),
            W48,
            now=NOW,
            ratings=_ratings,
            sensors_first=lambda conn, since, until: SENSORS_FIRST,
        )


def test_the_headline_figures_count_the_week_in_the_regions_zone(report: WeeklyReport) -> None:
    assert (report.year, report.week, report.label) == (2026, 48, "2026-W48")
    assert report.start == msk(23, 11, 0)
    assert report.end == msk(30, 11, 0)
    assert report.received == Figure(5, 2)
    assert report.by_source == (Figure(3, 2), Figure(1, 0), Figure(1, 0))
    assert report.resolved == Figure(3, 1)
    assert report.overdue == Figure(2, 2)
    assert report.received.change == pytest.approx(1.5)
    assert report.by_source[1].change is None  # nothing to compare with


def test_days_and_trends(report: WeeklyReport) -> None:
    by_day = {d.day: d.by_source for d in report.days}
    assert list(by_day) == [date(2026, 11, 23 + k) for k in range(7)]
    assert by_day[date(2026, 11, 23)] == (1, 0, 0)  # 00:05 МСК, Sunday in UTC
    assert by_day[date(2026, 11, 25)] == (2, 0, 0)
    assert by_day[date(2026, 11, 26)] == (0, 1, 0)
    assert by_day[date(2026, 11, 29)] == (0, 0, 1)
    assert sum(d.total for d in report.days) == report.received.value
    sectors = {t.name: t for t in report.sectors}
    assert report.sectors[0].name == ROADS  # busiest first
    assert (sectors[ROADS].count, sectors[ROADS].before) == (4, (1, 0, 1, 2))
    assert sectors[ROADS].change == pytest.approx(3.0)
    assert (sectors[HOUSING].count, sectors[HOUSING].change) == (1, None)
    assert sectors[ECOLOGY].count == 0
    assert sectors[ECOLOGY].change == pytest.approx(-1.0)
    assert set(load_routing().sectors) <= set(sectors)  # every block, quiet ones too
    districts = {t.name: t for t in report.districts}
    assert (districts[LENINSKY].count, districts[LENINSKY].before) == (3, (2, 0, 1, 2))
    assert districts[LENINSKY].change == pytest.approx(1.4)


def test_points_of_the_week_and_the_injected_ratings(report: WeeklyReport) -> None:
    assert [p.key for p in report.points] == ["surge:roads:leninsky"]
    assert report.ratings == RATINGS
    assert report.sensors_first == SENSORS_FIRST
    assert SEEN[-1] == (report.start, report.end)


def test_the_default_week_is_the_last_full_one() -> None:
    assert last_full_week(NOW, MSK) == W48  # Thursday 3 December
    assert last_full_week(msk(30, 11, 0, 1), MSK) == W48  # a minute into W49
    assert last_full_week(msk(29, 11, 23, 59), MSK) == date(2026, 11, 16)


class _Text(HTMLParser):
    """The visible text of a page (SVG labels included), style sheets left out."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def test_the_russian_report_says_it_plainly(report: WeeklyReport) -> None:
    routing = load_routing()
    html = render_week(report, routing)
    text = " ".join(visible(html).replace("\u00a0", " ").split())
    assert "Еженедельный анализ обращений: 48-я неделя 2026 года" in text
    assert "23.11.2026 — 29.11.2026" in text
    assert "Все времена — МСК" in text
    assert "прошлая неделя: 2 · +150 %" in text
    # a row: its name, this week's count, five weeks' bars (titled), the change
    assert "Дороги 4 26.10: 1 02.11: 0 09.11: 1 16.11: 2 23.11: 4 +300 %" in text
    assert re.search(r"Ленинский округ 3 (\d\d\.\d\d: \d+ ){5}\+140 %", text)
    assert re.search(r"Экология 0 (\d\d\.\d\d: \d+ ){5}−100 %", text)
    assert re.search(r"ЖКХ 1 (\d\d\.\d\d: \d+ ){5}—", text)
    assert "37 обращений за сутки при норме 9–14" in text
    assert "25.11 08:00 МСК — 26.11 08:00 МСК" in text
    assert "Управление городского хозяйства г. Калуги" in text
    assert "10 мин / 30 мин" in text
    assert "75 %" in text
    assert "мало обращений" in text  # the unranked agency
    assert "Датчик сообщил первым в 6 из них (75 %)." in text
    assert "Медианное опережение граждан: 42 мин." in text
    bad = [f"English word {w!r}" for w in LATIN.findall(text) if w not in ALLOWED_LATIN_RU]
    bad += [f"time without its zone {m.group()!r}" for m in CLOCK.finditer(text)]
    bad += [f"internal name {m!r}" for m in SNAKE.findall(text)]
    bad += [f"leftover {w!r}" for w in ("None", "nan", "{", "}") if w in text]
    assert not bad, bad
    # the sectors' chart draws the blocks with appeals in these five weeks, the table all
    sectors_svg = re.findall(r'<svg[^>]*class="chart bars".*?</svg>', html, re.S)[1]
    drawn = set(re.findall(r"<text[^>]*>([^<]+)</text>", sectors_svg))
    assert {ROADS, HOUSING, ECOLOGY} <= drawn
    assert "Образование" not in drawn
    assert "Образование 0" in text
    # printable: A4, one page per section
    assert "size: A4" in html
    assert html.count("<section") == 5
    assert "break-before: page" in html


def test_the_english_report_has_no_russian_but_names(report: WeeklyReport) -> None:
    routing = load_routing()
    text = visible(render_week(report, routing, locale="en"))
    assert "Weekly analysis of appeals: week 48 of 2026" in text
    assert "All times are MSK" in text
    names = [routing.region, *routing.sectors, *routing.districts.values()]
    names += [s.agency for s in routing.services] + [r.name for r in RATINGS]
    names += ["Управление", "Яма"]
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    assert not CYRILLIC.search(text), [w for w in text.split() if CYRILLIC.search(w)]


def test_an_empty_week_renders_with_nothing_to_rank(db_url: str) -> None:
    routing = load_routing()
    with connect(db_url) as conn:
        report = weekly_report(conn, routing, W48, now=NOW)
    assert report.received == Figure(0, 0)
    assert report.ratings == ()
    assert report.sensors_first == SensorsFirst(faults=0, sensor_first=0, share=None,
                                                median_lead_s=None)  # fmt: skip
    text = visible(render_week(report, routing))
    assert "За неделю точек напряжённости не найдено." in text
    assert "Рейтинг ведомств за эту неделю не рассчитан." in text


def test_a_day_other_than_monday_is_refused(db_url: str) -> None:
    with connect(db_url) as conn, pytest.raises(ValueError, match="not a Monday"):
        weekly_report(conn, load_routing(), date(2026, 11, 24), now=NOW)


@pytest.mark.parametrize("width", [1200, 900])
def test_every_table_fits_the_page_in_a_browser(
    report: WeeklyReport,
    browser: Browser,
    tmp_path: Path,
    width: int,
) -> None:
    """The ratings table has ten columns: at 1200 px its «Баллы» column ran off the page."""
    routing = load_routing()
    longest = max((s.agency for s in routing.services), key=len)
    slow = _Rating(longest, 12_345, 183_600.0, 1_029_600.0, 1_029_600.0, 2_595_600.0,
                   0.755, 1_234, 567, 0.255, 81.5, 10)  # fmt: skip
    wide = dataclasses.replace(report, ratings=(slow, *RATINGS))
    page_file = tmp_path / "week.html"
    page_file.write_text(render_week(wide, routing))
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(page_file.as_uri())
        overflow = page.evaluate(
            """() => {
                const page = document.querySelector('.weekly').getBoundingClientRect();
                const right = Math.min(page.right, window.innerWidth) + 1;
                return [...document.querySelectorAll('th, td')]
                    .filter(c => c.getBoundingClientRect().right > right)
                    .map(c => c.textContent.trim());
            }"""
        )
        page_wide = page.evaluate("() => document.documentElement.scrollWidth")
    finally:
        page.close()
    assert overflow == []
    assert page_wide <= width
