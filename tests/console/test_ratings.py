"""The ratings page over real HTTP: the period in МСК, both tables, sensors first, the
formula explained, the nav link, refusals."""

from __future__ import annotations

import html
import re

from citypulse.db import connect
from tests.appeals.analysis._build import DEVICE, Builder
from tests.fix_console import LiveConsole


def _seed(db_url: str) -> None:
    with connect(db_url) as conn:
        b = Builder(conn)
        # Agency «ЦОДД <б>»: a sensor appeal resolved in 2 h of 4, a citizen confirming it
        # 30 minutes later (grouped and linked).
        s = b.appeal("sensor", agency="ЦОДД <б>", service="traffic-signal", device=DEVICE,
                     requested=1, expected=5, accepted=1.5, resolved=3, status="resolved")  # fmt: skip
        b.link(b.appeal("citizen", agency="ЦОДД <б>", requested=1.5, group=s), s)
        conn.commit()


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_ratings_page_shows_the_period_tables_and_formula(live_console: LiveConsole) -> None:
    _seed(live_console.db_url)
    with live_console.signed_in() as c:
        queue = c.get("/console/")
        r = c.get("/console/ratings", params={"from": "2026-11-23", "to": "2026-11-29"})
    assert 'href="/console/ratings"' in queue.text
    assert r.status_code == 200, r.text
    text = _text(r.text)
    assert "Рейтинг ведомств" in text
    assert "Период: 23.11.2026 00:00 — 30.11.2026 00:00 МСК" in text
    assert "ЦОДД &lt;б&gt;" in r.text  # escaped
    # the agency row: 2 received, accepted in 30 min, resolved in 2 h, on time 100 %,
    # half from sensors; score 100.
    row = re.search(r"<tr>\s*<td class=\"num\">—</td>\s*<td>ЦОДД &lt;б&gt;</td>(.*?)</tr>",
                    r.text, re.S)  # fmt: skip
    assert row is not None
    cells = [_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    assert cells[0] == "2"
    assert cells[3:] == ["100 %", "0", "0", "50 %", "100.0"]
    assert "Дороги" in text  # the sector table
    # sensors first: one fault, the sensor 30 minutes ahead
    assert "1 (100 %)" in text
    assert "датчик раньше на 30 мин" in text
    assert "Как считается балл" in text
    assert "не меньше 20 обращений" in text


def test_ratings_page_in_english(live_console: LiveConsole) -> None:
    with live_console.signed_in() as c:
        c.cookies.set("cp_lang", "en", path="/console")
        r = c.get("/console/ratings")
    assert r.status_code == 200
    text = _text(r.text)
    assert "Agencies' ratings" in text
    assert "How the score is computed" in text
    assert " MSK" in text


def test_ratings_page_refuses_bad_dates_and_needs_a_session(live_console: LiveConsole) -> None:
    with live_console.client() as c:
        r = c.get("/console/ratings")
        assert r.status_code == 303
        assert r.headers["location"].endswith("/console/login")
    with live_console.signed_in() as c:
        bad = c.get("/console/ratings", params={"from": "23.11.2026"})
        backwards = c.get("/console/ratings", params={"from": "2026-11-29", "to": "2026-11-23"})
    assert bad.status_code == 400
    assert "from: a date like 2026-11-23" in bad.text
    assert backwards.status_code == 400
