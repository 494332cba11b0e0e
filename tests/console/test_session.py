"""Signing in and out, sessions, CSRF: a request without a valid session and CSRF token
changes nothing; the key never reaches a URL or a log."""

from __future__ import annotations

import logging

import pytest

from appeals import Principal, add_system_key, hash_key, revoke_key
from citypulse import IncidentType
from citypulse.db import connect
from console import SessionCodec
from tests.appeals._db import sensor_appeals
from tests.fix_console import LiveConsole, csrf_of, sign_in


def _status(db_url: str, appeal_id: int) -> str:
    with connect(db_url) as conn:
        row = conn.execute("SELECT status FROM appeals WHERE id = %s", (appeal_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_codec_refuses_forged_expired_and_garbled_cookies() -> None:
    codec = SessionCodec(secret=b"s" * 32, max_age_s=60)
    who = Principal(name="op", role="operator", agency="МКУ «Городские парковки»")
    cookie = codec.issue(who, hash_key("k"), now=1000)
    session = codec.read(cookie, now=1030)
    assert session is not None
    assert (session.name, session.role, session.agency) == ("op", "operator", who.agency)
    assert session.key_hash == hash_key("k")
    assert codec.read(cookie, now=1061) is None  # expired
    other = SessionCodec(secret=b"t" * 32)
    assert other.read(cookie, now=1030) is None  # signed under another secret
    body, signature = cookie.split(".")
    assert codec.read(body[:-2] + "AA." + signature, now=1030) is None
    for garbled in ("", ".", "a.b.c", "x" * 5000, "é.é"):
        assert codec.read(garbled, now=1030) is None
    assert codec.check_csrf(session.sid, codec.csrf(session.sid))
    assert not codec.check_csrf(session.sid, codec.csrf("another"))
    assert not codec.check_csrf(session.sid, "")
    with pytest.raises(ValueError, match="32 bytes"):
        SessionCodec(secret=b"short")


def test_sign_in_sets_a_strict_cookie_and_sign_out_ends_it(
    live_console: LiveConsole, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with live_console.client() as c:
        r = c.get("/console/")
        assert r.status_code == 303
        assert r.headers["location"].endswith("/console/login")
        r = sign_in(c, live_console.operator_key)
        assert r.status_code == 303
        assert r.headers["location"] == "/console/"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("cp_session=")
        for flag in ("HttpOnly", "SameSite=strict", "Path=/console", "Max-Age=28800"):
            assert flag.lower() in cookie.lower()
        assert "secure" not in cookie.lower()  # plain http here; https sets Secure
        page = c.get("/console/")
        assert page.status_code == 200
        assert "test-operator" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        r = c.post("/console/logout", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303
        assert c.get("/console/").status_code == 303
    log_text = caplog.text
    assert "console sign-in: test-operator" in log_text
    assert live_console.operator_key not in log_text


def test_bad_and_reporter_keys_are_refused_with_a_message(live_console: LiveConsole) -> None:
    with live_console.client() as c:
        r = sign_in(c, live_console.operator_key + "x")
        assert r.status_code == 401
        assert "Ключ не подходит" in r.text
        assert live_console.operator_key not in r.text
        r = sign_in(c, live_console.reporter_key)
        assert r.status_code == 403
        assert "Этот ключ не оператора" in r.text
        assert "cp_session" not in r.headers.get("set-cookie", "")
        with connect(live_console.db_url) as conn:
            system, _ = add_system_key(conn, name="monitoring", source_system="monitoring")
            conn.commit()
        r = sign_in(c, system)  # another system's key: events only, no console
        assert r.status_code == 403
        assert "Этот ключ не оператора" in r.text
        # No CSRF token, or no sign-in form cookie: refused before the key is looked at.
        r = c.post("/console/login", data={"key": live_console.operator_key})
        assert r.status_code == 403
        c.cookies.clear()
        r = c.post("/console/login", data={"key": live_console.operator_key, "csrf": "x"})
        assert r.status_code == 403


def test_posts_without_session_or_csrf_change_nothing(live_console: LiveConsole) -> None:
    (appeal_id,) = sensor_appeals(
        live_console.db_url, (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya")
    )
    url = f"/console/appeals/{appeal_id}/accept"
    with live_console.client() as anonymous:
        assert anonymous.post(url, data={"csrf": "anything"}).status_code == 403
    with live_console.signed_in() as c:
        page = c.get(f"/console/appeals/{appeal_id}")
        token = csrf_of(page.text)
        assert c.post(url).status_code == 403
        assert c.post(url, data={"csrf": token + "x"}).status_code == 403
        # Another session's token does not do either.
        with live_console.signed_in(live_console.admin_key) as other:
            other_token = csrf_of(other.get("/console/").text)
        assert c.post(url, data={"csrf": other_token}).status_code == 403
        assert _status(live_console.db_url, appeal_id) == "new"
        r = c.post(url, data={"csrf": token})
        assert r.status_code == 303
    assert _status(live_console.db_url, appeal_id) == "accepted"


def test_a_revoked_key_ends_its_session(live_console: LiveConsole) -> None:
    with live_console.signed_in() as c:
        assert c.get("/console/").status_code == 200
        with connect(live_console.db_url) as conn:
            assert revoke_key(conn, "test-operator")
            conn.commit()
        assert c.get("/console/").status_code == 303


def test_an_agency_operator_sees_and_acts_on_its_agency_only(live_console: LiveConsole) -> None:
    theirs, other = sensor_appeals(
        live_console.db_url,
        (IncidentType.PARKING_FULL, "pk-leninsky-1"),
        (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya"),
    )
    with live_console.signed_in(live_console.parking_key) as c:
        queue = c.get("/console/", params={"status": "all"})
        assert f'data-id="{theirs}"' in queue.text
        assert f'data-id="{other}"' not in queue.text
        assert c.get(f"/console/appeals/{theirs}").status_code == 200
        r = c.get(f"/console/appeals/{other}")
        assert r.status_code == 404
        token = csrf_of(c.get(f"/console/appeals/{theirs}").text)
        r = c.post(f"/console/appeals/{other}/accept", data={"csrf": token})
        assert r.status_code == 404
        # Filtering by another agency shows nothing of it.
        other_agency = c.get("/console/", params={"agency": "МКУ «Управление дорожного хозяйства»"})
        assert f'data-id="{other}"' not in other_agency.text
    assert _status(live_console.db_url, other) == "new"


def test_language_switch_and_its_redirect_stays_in_the_console(live_console: LiveConsole) -> None:
    with live_console.signed_in() as c:
        r = c.get("/console/lang", params={"to": "en", "next": "/console/?status=all"})
        assert r.status_code == 303
        assert r.headers["location"] == "/console/?status=all"
        assert "Sign out" in c.get("/console/").text
        for evil in ("//evil.example/", "https://evil.example/", "/console/..//x", "/elsewhere"):
            r = c.get("/console/lang", params={"to": "ru", "next": evil})
            assert r.headers["location"] == "/console/"
        assert "Выйти" in c.get("/console/").text
