"""The weekly analysis in the console over real HTTP: the same report as the command
writes, for a signed-in operator, linked from every page, a wrong week refused."""

from __future__ import annotations

from tests.appeals.analysis._week_data import write_week
from tests.fix_console import LiveConsole


def test_the_week_page_shows_the_report(live_console: LiveConsole) -> None:
    write_week(live_console.db_url)
    with live_console.signed_in() as c:
        queue = c.get("/console/").text
        assert 'href="/console/reports/week"' in queue  # the nav link
        r = c.get("/console/reports/week", params={"week": "2026-W48"})
        assert r.status_code == 200, r.text
        html = r.text.replace("\u00a0", " ")
        assert "48-я неделя 2026 года" in html
        assert "Поступило обращений" in html
        assert "37 обращений за сутки при норме 9–14" in html
        assert "size: A4" in html  # printable, as the file
        assert 'href="/console/reports/week?week=2026-W47"' in html
        assert 'href="/console/reports/week?week=2026-W49"' in html
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        english = c.get(
            "/console/lang",
            params={"to": "en", "next": "/console/reports/week"},
            follow_redirects=True,
        )
        assert english.status_code == 200
        assert "Weekly analysis of appeals: week" in english.text
        assert c.get("/console/reports/week").status_code == 200  # the last full week


def test_a_wrong_week_is_refused(live_console: LiveConsole) -> None:
    with live_console.signed_in() as c:
        r = c.get("/console/reports/week", params={"week": "2026-W99"})
        assert r.status_code == 400
        assert "2026 has no week 99" in r.text


def test_the_week_page_needs_a_session(live_console: LiveConsole) -> None:
    with live_console.client() as c:
        r = c.get("/console/reports/week", params={"week": "2026-W48"})
        assert r.status_code == 303
        assert r.headers["location"] == "/console/login"
