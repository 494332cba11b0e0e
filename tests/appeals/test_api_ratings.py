"""GET /api/v1/ratings over real HTTP: the figures, the default period, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appeals._api_ratings import parse_period
from appeals._errors import ApiError
from appeals.analysis import last_full_week
from citypulse.db import connect
from tests.appeals.analysis._build import Builder
from tests.fix_api import LiveApi

MSK = ZoneInfo("Europe/Moscow")


def _seed(db_url: str) -> None:
    with connect(db_url) as conn:
        b = Builder(conn)
        # A: 2 h of a 4 h deadline, on time; B: still open past its deadline.
        b.appeal("citizen", requested=1, expected=5, accepted=1.5, resolved=3, status="resolved")
        b.appeal("citizen", agency="Б", sector="ЖКХ", requested=2, expected=3, status="new")
        conn.commit()


def test_ratings_by_agency_and_sector(live_api: LiveApi) -> None:
    _seed(live_api.db_url)
    headers = {"X-Api-Key": live_api.operator_key}
    with live_api.client() as c:
        r = c.get("/api/v1/ratings?since=2026-11-23&until=2026-11-30", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        by_sector = c.get(
            "/api/v1/ratings", params={"since": "2026-11-23", "by": "sector"}, headers=headers
        ).json()
    # Dates are midnights in Moscow (UTC+3): the appeals at 03:00 and 04:00 МСК are in.
    assert body["since"] == "2026-11-23T00:00:00+03:00"
    assert body["until"] == "2026-11-30T00:00:00+03:00"
    a, b = body["ratings"][0], body["ratings"][1]  # A scores higher, neither ranked
    assert (a["name"], a["received"], a["on_time_share"], a["resolve_median_s"]) == (
        "А", 1, 1.0, 7200.0,
    )  # fmt: skip
    assert a["accept_median_s"] == 1800.0
    assert (b["name"], b["overdue"], b["on_time_share"], b["rank"]) == ("Б", 1, 0.0, None)
    assert a["score"] == pytest.approx(100.0)
    # Б: on time 0 (0.4), not overdue 0 (0.2), nothing reopened (0.2); no speed part.
    assert b["score"] == pytest.approx(100 * 0.2 / 0.8)
    assert body["sensors_first"] == {
        "faults": 0, "sensor_first": 0, "share": None, "median_lead_s": None,
    }  # fmt: skip
    assert by_sector["until"] == "2026-11-30T00:00:00+03:00"  # a week after since
    assert [r["name"] for r in by_sector["ratings"]] == ["Дороги", "ЖКХ"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("by=district", "by: agency or sector"),
        ("since=2026-11-30&until=2026-11-23", "until: must be after since"),
        ("since=yesterday", "since: expected a W3C date-time"),
        ("since=2025-01-01&until=2026-11-23", "at most 366 days"),
        ("sector=x", "sector: unknown parameter"),
    ],
)
def test_bad_queries_are_400_with_a_message(live_api: LiveApi, query: str, message: str) -> None:
    with live_api.client() as c:
        r = c.get(f"/api/v1/ratings?{query}", headers={"X-Api-Key": live_api.operator_key})
    assert r.status_code == 400
    assert message in r.json()[0]["description"]


def test_ratings_need_an_operator_key(live_api: LiveApi) -> None:
    with live_api.client() as c:
        assert c.get("/api/v1/ratings").status_code == 401
        r = c.get("/api/v1/ratings", headers={"X-Api-Key": live_api.reporter_key})
        assert r.status_code == 403
        assert (
            c.post("/api/v1/ratings", headers={"X-Api-Key": live_api.operator_key}).status_code
            == 405
        )


def test_the_default_period_is_the_last_full_week_in_the_zone() -> None:
    # Monday 2026-11-30 00:30 МСК is still Sunday in UTC: the last full week is Nov 23-30.
    now = datetime(2026, 11, 29, 21, 30, tzinfo=UTC)
    since, until, by = parse_period({}, MSK, now)
    assert since.date() == last_full_week(now, MSK)
    assert since == datetime(2026, 11, 23, tzinfo=MSK)
    assert until - since == timedelta(days=7)
    assert by.value == "agency"
    with pytest.raises(ApiError):
        parse_period({"until": "2026-11-01"}, MSK, now)  # before the default since


def test_ratings_are_in_the_openapi_document(live_api: LiveApi) -> None:
    with live_api.client() as c:
        doc = c.get("/openapi.json").json()
    get = doc["paths"]["/api/v1/ratings"]["get"]
    assert {p["name"] for p in get["parameters"]} == {"since", "until", "by"}
    assert set(doc["components"]["schemas"]["Rating"]["required"]) == {
        "name", "received", "accept_median_s", "accept_p90_s", "resolve_median_s",
        "resolve_p90_s", "on_time_share", "overdue", "reopened", "sensor_share", "score", "rank",
    }  # fmt: skip
