"""The queue and an appeal's page over real HTTP: filters, order, SLA clocks, paging,
evidence, links and history; every text escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from citypulse import IncidentType
from citypulse.db import connect
from tests.appeals._db import sensor_appeals
from tests.console._data import PM25_LIMIT, STATION, air_appeal, citizen_report
from tests.fix_console import LiveConsole

_ROW_IDS = re.compile(r'<tr class="[^"]*" data-id="(\d+)"')


def _ids(html: str) -> list[int]:
    return [int(i) for i in _ROW_IDS.findall(html)]


def _sql(db_url: str, query: str, *params: object) -> None:
    with connect(db_url) as conn:
        conn.execute(query, params)
        conn.commit()


def test_queue_puts_open_and_urgent_first_with_sla_clocks(live_console: LiveConsole) -> None:
    low, high = sensor_appeals(
        live_console.db_url,
        (IncidentType.PARKING_FULL, "pk-leninsky-1"),
        (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya"),
    )
    citizen = citizen_report(live_console.db_url, "Дым из трубы котельной")
    db = live_console.db_url
    _sql(db, "UPDATE appeals SET priority = 1 WHERE id = %s", low)
    _sql(db, "UPDATE appeals SET priority = 4 WHERE id = %s", high)
    _sql(db, "UPDATE appeals SET priority = 2, expected_at = now() - interval '95 minutes'"
         " WHERE id = %s", citizen)  # fmt: skip
    _sql(db, "UPDATE appeals SET expected_at = now() + interval '3 hours 5 minutes'"
         " WHERE id = %s", high)  # fmt: skip
    with live_console.signed_in() as c:
        page = c.get("/console/")
        assert page.status_code == 200
        assert _ids(page.text) == [high, citizen, low]
        row = page.text[page.text.index(f'data-id="{citizen}"') :]
        row = row[: row.index("</tr>")]
        assert "просрочено на 1\u00a0ч 35\u00a0мин" in row
        assert 'class="p2 overdue"' in page.text
        high_row = page.text[page.text.index(f'data-id="{high}"') :]
        assert "осталось 3\u00a0ч " in high_row[: high_row.index("</tr>")]
        assert "Время — Europe/Moscow (МСК, UTC+3)" in page.text
        assert "Срок, МСК" in page.text
        # A closed appeal leaves the default (open) queue and is found among the closed.
        _sql(db, "UPDATE appeals SET status = 'closed', closed_at = now() WHERE id = %s", high)
        assert _ids(c.get("/console/").text) == [citizen, low]
        assert _ids(c.get("/console/", params={"status": "closed"}).text) == [high]
        assert _ids(c.get("/console/", params={"status": "all"}).text) == [citizen, low, high]
        english = c.get(
            "/console/lang", params={"to": "en", "next": "/console/"}, follow_redirects=True
        )
        assert "overdue by 1\u00a0h 35\u00a0min" in english.text
        assert "Times in Europe/Moscow" in english.text


def test_queue_filters(live_console: LiveConsole) -> None:
    parking, light = sensor_appeals(
        live_console.db_url,
        (IncidentType.PARKING_FULL, "pk-leninsky-1"),
        (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya"),
    )
    citizen = citizen_report(live_console.db_url, "Пахнет гарью")
    _sql(live_console.db_url,
         "UPDATE appeals SET expected_at = now() - interval '1 minute' WHERE id = %s", light)  # fmt: skip
    with live_console.signed_in() as c:

        def ids(**params: str) -> set[int]:
            r = c.get("/console/", params=params)
            assert r.status_code == 200, r.text
            return set(_ids(r.text))

        assert ids() == {parking, light, citizen}
        assert ids(source="citizen") == {citizen}
        assert ids(source="sensor") == {parking, light}
        assert ids(source="system") == set()  # other systems' events have their own source
        assert ids(overdue="true") == {light}
        assert ids(overdue="false") == {parking, citizen}
        assert ids(agency="МКУ «Городские парковки»") == {parking}
        assert ids(sector="Экология") == {citizen}
        assert ids(district="Ленинский округ") >= {parking}
        assert ids(status="new") == {parking, light, citizen}
        assert ids(status="accepted") == set()
        assert ids(source="citizen", sector="Дороги") == set()
        # The form keeps what was chosen.
        page = c.get("/console/", params={"source": "citizen", "overdue": "false"}).text
        assert '<option value="citizen" selected>' in page
        assert '<option value="false" selected>' in page
        for bad in (
            {"source": "satellite"},
            {"status": "done"},
            {"overdue": "maybe"},
            {"page": "0"},
            {"page": "1e3"},
            {"sector": "Космос"},
            {"agency": "' OR 1=1 --"},
        ):
            r = c.get("/console/", params=bad)
            assert r.status_code == 400, bad
            assert next(iter(bad)) in r.text
        r = c.get("/console/?source=sensor&source=citizen")
        assert r.status_code == 400
        assert "more than once" in r.text


def test_queue_pages(live_console: LiveConsole) -> None:
    ids = [citizen_report(live_console.db_url, f"Жалоба {i}", key=f"k{i}") for i in range(53)]
    with live_console.signed_in() as c:
        first = c.get("/console/")
        assert 'Найдено: <b id="queue-total">53</b>' in first.text
        assert _ids(first.text) == ids[::-1][:50]
        assert 'rel="next" href="/console/?page=2"' in first.text
        second = c.get("/console/", params={"page": "2"})
        assert _ids(second.text) == ids[::-1][50:]
        assert 'rel="prev" href="/console/"' in second.text
        assert _ids(c.get("/console/", params={"page": "3"}).text) == []


def test_a_sensor_appeal_shows_its_evidence_device_links_and_history(
    live_console: LiveConsole,
) -> None:
    appeal_id = air_appeal(live_console.db_url)
    report = citizen_report(live_console.db_url, "Дышать нечем у Театральной")
    _sql(live_console.db_url,
         "UPDATE devices SET online = true, status_changed_at = now() WHERE id = %s", STATION)  # fmt: skip
    with live_console.signed_in() as c:
        page = c.get(f"/console/appeals/{appeal_id}")
        assert page.status_code == 200, page.text
        html = page.text
    evidence = html[html.index('id="evidence"') :]
    svg = evidence[evidence.index("<svg") : evidence.index("</svg>")]
    assert "<polyline" in svg
    assert f"порог {PM25_LIMIT:g} мкг/м³" in svg
    assert STATION in evidence
    assert "● на связи" in evidence
    assert f'href="/console/appeals/{report}"' in html  # the correlated citizen's report
    assert "подтверждает" in html or "связано" in html
    assert "Создано автоматически по инциденту" in html  # the history
    assert "Принять" in html
    assert "Передать" in html
    with live_console.signed_in() as c:
        assert c.get("/console/appeals/999999").status_code == 404
        assert c.get("/console/appeals/abc").status_code == 404
        assert c.get("/console/appeals/99999999999999999999").status_code == 404


def test_citizens_words_are_shown_as_text_not_run(live_console: LiveConsole) -> None:
    attack = '<script>alert("xss")</script><img src=x onerror=alert(1)>"\'&'
    appeal_id = citizen_report(
        live_console.db_url, attack, contact={"first_name": "<b>Иван</b>", "phone": "+7 900"}
    )
    with live_console.signed_in() as c:
        queue = c.get("/console/").text
        page = c.get(f"/console/appeals/{appeal_id}").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        c.post(f"/console/appeals/{appeal_id}/note", data={"csrf": token.group(1), "note": attack})
        after = c.get(f"/console/appeals/{appeal_id}").text
    for html in (queue, page, after):
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in html
    assert after.count("&lt;img src=x onerror=alert(1)&gt;") >= 2  # the text and the note
    assert '<dd id="contact">&lt;b&gt;Иван&lt;/b&gt;, +7 900</dd>' in page  # for the operator


def test_actions_write_history_and_outbox(live_console: LiveConsole) -> None:
    (appeal_id,) = sensor_appeals(
        live_console.db_url, (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya")
    )
    other = citizen_report(live_console.db_url, "Светофор на Кирова не переключается",
                           service_code="traffic-signal")  # fmt: skip
    base = f"/console/appeals/{appeal_id}"
    with live_console.signed_in() as c:

        def act(action: str, **fields: str) -> str:
            token = re.search(r'name="csrf" value="([^"]+)"', c.get(base).text)
            assert token is not None
            r = c.post(f"{base}/{action}", data={"csrf": token.group(1), **fields})
            if r.status_code == 303:
                assert r.headers["location"] == f"{base}?done={action}"
                return c.get(r.headers["location"]).text
            return f"{r.status_code} {r.text}"

        assert "Сделано: Принять" in act("accept")
        refused = act("reject")
        assert refused.startswith("400")
        assert "Укажите причину" in refused
        assert "Сделано" in act("transfer", agency="ГКУ «Центр организации дорожного движения»",
                                reason="светофорный объект на балансе ЦОДД")  # fmt: skip
        bad = act("transfer", agency="ООО Ромашка", reason="x")
        assert bad.startswith("400")
        assert "другое ведомство" in bad
        assert "Сделано" in act("note", note="позвонили диспетчеру")
        assert "Сделано" in act("resolve", note="контроллер перезапущен")
        page = act("close", note="проверено на месте")
        assert "Сделано: Закрыть" in page
        assert "Добавить примечание" in page
        assert "Принять" not in page
        late = act("accept")
        assert late.startswith("409")
        assert "Обновите страницу" in late
        citizen_base = f"/console/appeals/{other}"
        token = re.search(r'name="csrf" value="([^"]+)"', c.get(citizen_base).text)
        assert token is not None
        r = c.post(f"{citizen_base}/duplicate",
                   data={"csrf": token.group(1), "duplicate_of": str(appeal_id)})  # fmt: skip
        assert r.status_code == 303
    with connect(live_console.db_url) as conn:
        events = conn.execute(
            "SELECT status, actor, note FROM appeal_events WHERE appeal_id = %s ORDER BY id",
            (appeal_id,),
        ).fetchall()
        outbox = conn.execute(
            "SELECT event, payload->>'citypulse_status' FROM outbox WHERE appeal_id = %s"
            " ORDER BY id",
            (appeal_id,),
        ).fetchall()
        incident = conn.execute("SELECT status, closed_by FROM incidents").fetchone()
        group = conn.execute("SELECT group_id FROM appeals WHERE id = %s", (other,)).fetchone()
    assert [e[0] for e in events] == ["new", "accepted", "accepted", "accepted", "resolved",
                                      "closed", "closed"]  # fmt: skip
    assert all(e[1] == "test-operator" for e in events[1:])
    assert "ГКУ «Центр организации дорожного движения»" in events[2][2]
    assert events[3][2] == "позвонили диспетчеру"
    assert events[-1][2] == f"Обращение №{other} — его дубликат"
    assert outbox == [("created", "new"), ("updated", "accepted"), ("updated", "accepted"),
                      ("updated", "accepted"), ("updated", "resolved"), ("updated", "closed")]  # fmt: skip
    assert incident == ("closed", "test-operator")
    assert group == (appeal_id,)


def test_live_updates_tell_open_pages_that_appeals_changed(live_console: LiveConsole) -> None:
    with live_console.signed_in() as c, c.stream("GET", "/console/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()
        assert next(lines).startswith("retry:")
        # Quiet first: a keep-alive (every second here) and no change...
        assert next(line for line in lines if line) == ": keep-alive"
        # ...then a citizen's report is committed, and the page hears of it.
        citizen_report(live_console.db_url, "Новое обращение")
        deadline = datetime.now(UTC) + timedelta(seconds=15)
        seen = []
        for line in lines:
            seen.append(line)
            if line == "event: changed" or datetime.now(UTC) > deadline:
                break
        assert "event: changed" in seen
    with live_console.client() as anonymous:
        assert anonymous.get("/console/events").status_code == 403
