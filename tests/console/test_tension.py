"""The console's tension points page over real HTTP: active and recent points with their
explanations, times in the region's zone, links to their appeals, filters, the
agency-limited view, and the way there from the queue."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.appeals.analysis._points import Seeded, seed
from tests.console.test_browser import _shot, browser, screenshots
from tests.fix_console import LiveConsole

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["browser", "screenshots"]  # the browser test's fixtures, used here too

NB = "\u00a0"


@pytest.fixture
def points(live_console: LiveConsole) -> Seeded:
    return seed(live_console.db_url, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4))


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'class="tension-point[^"]*" data-id="(\d+)"', html)]


def test_active_and_recent_points_with_explanations_times_and_appeals(
    live_console: LiveConsole, points: Seeded
) -> None:
    with live_console.signed_in() as c:
        queue = c.get("/console/")
        assert 'href="/console/tension"' in queue.text  # the way there from the queue
        page = c.get("/console/tension")
    assert page.status_code == 200, page.text
    html = page.text
    assert _ids(html) == [points.recurrence, points.surge, points.cluster]  # active first
    assert f"Дороги, Ленинский округ: 37{NB}обращений за сутки при норме 9–14" in html
    assert "Транспорт, Октябрьский округ: 5" in html
    assert "Активные: 2" in html
    assert "Завершившиеся за период: 1" in html
    assert "Начало, МСК" in html
    assert "4,25" in html
    assert "продолжается" in html
    assert "54.51234, 36.26789" in html
    for appeal_id in points.roads + points.parking:
        assert f'href="/console/appeals/{appeal_id}"' in html
    # A start shown in Moscow time, as the operator's clock reads it.
    rows = re.findall(r'<td class="time">([^<]+)</td>', html)
    assert rows
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", r) for r in rows)


def test_filters_period_sector_district_kind(live_console: LiveConsole, points: Seeded) -> None:
    with live_console.signed_in() as c:

        def ids(**params: str) -> list[int]:
            r = c.get("/console/tension", params=params)
            assert r.status_code == 200, r.text
            return _ids(r.text)

        assert ids(period="30d") == [points.recurrence, points.surge, points.cluster, points.old]
        assert ids(period="active") == [points.recurrence, points.surge]
        assert ids(period="30d", sector="Транспорт") == [points.cluster]
        assert ids(period="30d", district="Октябрьский округ") == [points.cluster]
        assert ids(period="30d", kind="recurrence") == [points.recurrence]
        assert ids(period="30d", kind="surge") == [points.surge, points.old]
        assert ids(period="1d", kind="surge") == [points.surge]
        assert ids(period="1d", kind="cluster") == [points.cluster]
        assert ids(period="active", kind="cluster") == []
        bad = c.get("/console/tension", params={"kind": "storm"})
        assert bad.status_code == 400
        assert "kind" in bad.text


def test_english_and_the_agency_limited_view(live_console: LiveConsole, points: Seeded) -> None:
    with live_console.signed_in(live_console.parking_key) as c:
        c.get("/console/lang", params={"to": "en", "next": "/console/tension"})
        html = c.get("/console/tension").text
    assert "Tension points" in html
    assert _ids(html) == [points.cluster]  # the only one holding the parking agency's appeals
    assert f"5{NB}appeals" in html
    links = set(re.findall(r'href="/console/appeals/(\d+)"', html))
    assert links == {str(a) for a in points.parking}


def test_signed_out_readers_are_sent_to_sign_in(live_console: LiveConsole) -> None:
    with live_console.client() as c:
        r = c.get("/console/tension", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"


@pytest.mark.slow
def test_in_a_browser_from_the_queue_to_a_point_and_its_appeal(
    live_console: LiveConsole, points: Seeded, browser: Browser, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="ru-RU")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_console.url + "/console/login")
    page.fill("#key", live_console.operator_key)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")
    page.click("header nav a[href='/console/tension']")
    page.wait_for_url("**/console/tension")
    rows = page.locator("tr.tension-point")
    assert rows.count() == 3
    _shot(page, screenshots, "tension-01")
    # Filters apply on change, as the queue's do.
    page.select_option("select[name=kind]", "cluster")
    page.wait_for_url("**/console/tension?*kind=cluster*")
    assert [r.get_attribute("data-id") for r in rows.all()] == [str(points.cluster)]
    page.click(f'tr.tension-point a[href="/console/appeals/{points.parking[0]}"]')
    page.wait_for_url(f"**/console/appeals/{points.parking[0]}")
    _shot(page, screenshots, "tension-02-appeal")
    context.close()
    assert errors == []
