"""The console in a real browser: Playwright for Python driving Debian's Chromium.

Signs in, sees every appeal on the map and opens one from its marker, filters the queue,
opens a sensor appeal and sees its chart, accepts it,
transfers it, closes it with a note, and checks through the API and the outbox that each
step happened; an agency-limited operator does not see another agency's appeal.  A
screenshot of each page goes to the folder the test prints (``CITYPULSE_SCREENSHOTS``,
or a temporary one).  Without Playwright or the browser the test fails when ``CI`` is
set, and is skipped (with the reason) elsewhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from citypulse import IncidentType
from citypulse.db import connect
from tests.appeals._db import sensor_appeals
from tests.console._data import air_appeal, citizen_report
from tests.fix_console import LiveConsole

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("CITYPULSE_CHROMIUM", "/usr/bin/chromium")
CODD = "ГКУ «Центр организации дорожного движения»"

pytestmark = pytest.mark.slow


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set, so the browser test must run)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) and not shutil.which(
        CHROMIUM
    ):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def screenshots(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> Path:
    folder = Path(os.environ.get("CITYPULSE_SCREENSHOTS") or tmp_path_factory.mktemp("console"))
    folder.mkdir(parents=True, exist_ok=True)
    with capsys.disabled():
        print(f"\nconsole screenshots: {folder}")
    return folder


def _api(live: LiveConsole, appeal_id: int) -> dict[str, Any]:
    r = httpx.get(
        f"{live.url}/api/v1/appeals/{appeal_id}",
        headers={"X-Api-Key": live.operator_key},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_an_operator_works_an_appeal_in_the_browser(
    live_console: LiveConsole, browser: Browser, screenshots: Path
) -> None:
    sensor = air_appeal(live_console.db_url)
    citizen = citizen_report(live_console.db_url, "Едкий дым во дворе, <b>дышать нечем</b>")
    (light,) = sensor_appeals(
        live_console.db_url, (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya")
    )
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="ru-RU")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    console = live_console.url + "/console/"

    page.goto(console)
    assert page.url.endswith("/console/login")
    _shot(page, screenshots, "01-login")
    page.fill("#key", live_console.operator_key)
    with page.expect_response(lambda r: r.url.endswith("/console/events")):
        page.click("button[type=submit]")
    page.wait_for_url(console)
    assert page.locator("tr[data-id]").count() == 3
    # Live: a report committed now appears in the open queue without a reload.
    fresh = citizen_report(live_console.db_url, "Свалка мусора у остановки", service_code="waste")
    page.wait_for_selector(f'tr[data-id="{fresh}"]', timeout=15_000)
    assert page.locator("tr[data-id]").count() == 4
    _shot(page, screenshots, "02-queue")

    # The map: every appeal of the queue as a marker that opens it.
    page.click("header nav a[href='/console/map']")
    page.wait_for_url("**/console/map")
    city = page.locator("figure.city-map svg.map")
    assert city.is_visible()
    for appeal in (sensor, citizen, light, fresh):
        assert city.locator(f'a[href="/console/appeals/{appeal}"]').count() >= 1, appeal
    assert city.locator("path.area").count() == 3  # the districts' boundaries
    _shot(page, screenshots, "02b-map")
    page.locator(f'svg.map a[href="/console/appeals/{citizen}"] g.marker').click()
    page.wait_for_url(f"**/console/appeals/{citizen}")
    page.goto(console)

    # Filters apply on change (the script) and are in the address, so a link keeps them.
    page.select_option("select[name=source]", "sensor")
    page.wait_for_url("**/console/?*source=sensor*")
    rows = page.locator("tr[data-id]")
    assert sorted(int(r.get_attribute("data-id") or 0) for r in rows.all()) == sorted(
        [sensor, light]
    )
    assert (
        page.locator('select[name=source] option[value="sensor"]').get_attribute("selected")
        is not None
    )
    _shot(page, screenshots, "03-queue-sensors")
    page.select_option("select[name=source]", "citizen")
    page.wait_for_url("**source=citizen*")
    assert page.locator("tr[data-id]").count() == 2
    title = page.locator(f'tr[data-id="{citizen}"] td.title').inner_text()
    assert "<b>дышать нечем</b>" in title  # the citizen's markup shown as text

    page.select_option("select[name=source]", "sensor")
    page.wait_for_url("**source=sensor*")
    page.click(f'tr[data-id="{sensor}"] td.title a')
    page.wait_for_url(f"**/console/appeals/{sensor}")
    chart = page.locator("#evidence figure.chart svg")
    assert chart.is_visible()
    assert chart.locator("polyline").count() >= 1
    assert "порог 35" in (chart.text_content() or "")
    assert chart.bounding_box() is not None
    _shot(page, screenshots, "04-appeal-sensor")

    page.click(".act-accept button")
    page.wait_for_url(f"**/console/appeals/{sensor}?done=accept")
    assert "Сделано: Принять" in page.locator(".notice").inner_text()
    assert _api(live_console, sensor)["citypulse_status"] == "accepted"
    _shot(page, screenshots, "05-accepted")

    page.select_option(".act-transfer select[name=agency]", CODD)
    page.fill(".act-transfer input[name=reason]", "пост у перекрёстка, нужен ЦОДД")
    page.click(".act-transfer button")
    page.wait_for_url(f"**/console/appeals/{sensor}?done=transfer")
    assert _api(live_console, sensor)["agency_responsible"] == CODD

    page.fill(".act-close input[name=note]", "превышение подтверждено, источник устранён")
    page.click(".act-close button")
    page.wait_for_url(f"**/console/appeals/{sensor}?done=close")
    assert page.locator("#appeal-status").inner_text() == "закрыто"
    _shot(page, screenshots, "06-closed")
    detail = _api(live_console, sensor)
    assert detail["citypulse_status"] == "closed"
    assert [e["status"] for e in detail["events"]] == ["new", "accepted", "accepted", "closed"]
    assert detail["events"][-1]["note"] == "превышение подтверждено, источник устранён"
    assert {e["actor"] for e in detail["events"][1:]} == {"test-operator"}
    with connect(live_console.db_url) as conn:
        outbox = conn.execute(
            "SELECT event, payload->>'citypulse_status', payload->>'agency_responsible'"
            " FROM outbox WHERE appeal_id = %s ORDER BY id",
            (sensor,),
        ).fetchall()
    assert [row[:2] for row in outbox] == [
        ("created", "new"),
        ("updated", "accepted"),
        ("updated", "accepted"),
        ("updated", "closed"),
    ]
    assert outbox[-1][2] == CODD

    page.goto(live_console.url + "/console/lang?to=en&next=/console/%3Fstatus%3Dall")
    assert page.locator("h1").inner_text() == "Queue"
    _shot(page, screenshots, "07-queue-english")
    context.close()
    assert errors == []

    # An operator limited to the parking agency sees none of these appeals.
    parking = browser.new_context(viewport={"width": 1360, "height": 900})
    page = parking.new_page()
    page.goto(console)
    page.fill("#key", live_console.parking_key)
    page.click("button[type=submit]")
    page.wait_for_url(console)
    assert page.locator("tr[data-id]").count() == 0
    response = page.goto(f"{live_console.url}/console/appeals/{citizen}")
    assert response is not None
    assert response.status == 404
    _shot(page, screenshots, "08-other-agency-404")
    parking.close()
