"""``GET /api/v1/tension`` over real HTTP: the points for a period and filters, their
explanations in the asked language, agency scoping, refusals, and answers that match
the OpenAPI document's schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import jsonschema
import pytest

from tests.appeals.analysis._points import T0, Seeded, seed
from tests.appeals.test_api import _error
from tests.fix_api import LiveApi

NB = "\u00a0"
URL = "/api/v1/tension"


@pytest.fixture
def city(live_api: LiveApi) -> Seeded:
    return seed(live_api.db_url, T0)


def _get(c: httpx.Client, key: str, **params: str) -> list[dict[str, Any]]:
    r = c.get(URL, params=params, headers={"X-Api-Key": key})
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list)
    return body


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [int(x["id"]) for x in items]


def test_points_for_a_period_newest_first_with_explanations(
    live_api: LiveApi, city: Seeded
) -> None:
    since = (T0 - timedelta(days=1)).isoformat()
    with live_api.client() as c:
        items = _get(c, live_api.operator_key, since=since)
        assert _ids(items) == [city.recurrence, city.cluster, city.surge]
        surge = items[2]
        assert surge["kind"] == "surge"
        assert surge["active"] is True
        assert surge["ended_at"] is None
        assert surge["explanation"] == (
            f"Дороги, Ленинский округ: 37{NB}обращений за сутки при норме 9–14"
        )
        assert surge["score"] == pytest.approx(4.25)
        assert len(surge["appeal_ids"]) == 5
        cluster = items[1]
        assert cluster["active"] is False
        assert cluster["ended_at"] is not None
        assert cluster["lat"] == 54.51234
        assert sorted(cluster["appeal_ids"]) == sorted(city.parking + city.congestion)
        assert items[0]["device_id"] == "tl-lenina-pushkina"
        # Everything, old points too, from far enough back; nothing before it began.
        every = _get(c, live_api.operator_key, since=(T0 - timedelta(days=30)).isoformat())
        assert city.old in _ids(every)
        before = _get(c, live_api.operator_key, since=(T0 - timedelta(days=30)).isoformat(),
                      until=(T0 - timedelta(days=21)).isoformat())  # fmt: skip
        assert before == []
        # The cluster ended at 08:00 UTC: a period from 09:00 UTC on leaves it out.
        later = _get(c, live_api.operator_key, since=(T0 + timedelta(hours=4)).isoformat())
        assert _ids(later) == [city.recurrence, city.surge]


def test_filters(live_api: LiveApi, city: Seeded) -> None:
    since = (T0 - timedelta(days=30)).isoformat()
    op = live_api.operator_key
    with live_api.client() as c:
        assert _ids(_get(c, op, since=since, sector="Транспорт")) == [city.cluster]
        assert _ids(_get(c, op, since=since, kind="recurrence")) == [city.recurrence]
        assert _ids(_get(c, op, since=since, district="oktyabrsky")) == [city.cluster]
        assert _ids(_get(c, op, since=since, district="Октябрьский округ")) == [city.cluster]
        assert len(_get(c, op, since=since, limit="2")) == 2
        # Without a period: the last 7 days, where nothing began or lasted (2026-11 data).
        assert city.surge in _ids(_get(c, op))  # active, so it overlaps any period


def test_the_language_from_lang_or_accept_language(live_api: LiveApi, city: Seeded) -> None:
    op = {"X-Api-Key": live_api.operator_key}
    params = {"kind": "surge"}
    with live_api.client() as c:
        ru = c.get(URL, params=params, headers=op)
        assert ru.headers["content-language"] == "ru"
        assert "обращений" in ru.json()[0]["explanation"]
        en = c.get(URL, params={**params, "lang": "en"}, headers=op)
        assert en.headers["content-language"] == "en"
        assert f"37{NB}appeals in a day against a usual 9–14" in en.json()[0]["explanation"]
        negotiated = c.get(URL, params=params, headers={**op, "Accept-Language": "de, en;q=0.8"})
        assert negotiated.headers["content-language"] == "en"
        weighed = c.get(URL, params=params, headers={**op, "Accept-Language": "en;q=0.3, ru"})
        assert weighed.headers["content-language"] == "ru"


def test_an_agency_key_sees_its_own_appeals_only(live_api: LiveApi, city: Seeded) -> None:
    since = (T0 - timedelta(days=30)).isoformat()
    with live_api.client() as c:
        items = _get(c, live_api.agency_operator_key, since=since)  # the parking agency's
    assert _ids(items) == [city.cluster]
    assert sorted(items[0]["appeal_ids"]) == sorted(city.parking)
    assert items[0]["explanation"].startswith(f"Транспорт, Октябрьский округ: 5{NB}обращений")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "since: expected a W3C date-time"),
        ({"since": ""}, "since: empty"),
        ({"since": "2026-11-25T00:00:00Z", "until": "2026-11-24T00:00:00Z"},
         "until: must be after since"),
        ({"sector": "Космос"}, "sector: not one of the sector blocks"),
        ({"district": "Заречный"}, "district: not one of the routing file's districts"),
        ({"kind": "storm"}, "kind: expected surge, cluster or recurrence"),
        ({"lang": "de"}, "lang: expected ru or en"),
        ({"limit": "0"}, "limit: must be between 1 and 1000"),
        ({"limit": "many"}, "limit: expected an integer"),
        ({"sectr": "Дороги"}, "sectr: not a parameter of this request"),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused_with_a_message(
    live_api: LiveApi, params: dict[str, str], message: str
) -> None:
    with live_api.client() as c:
        r = c.get(URL, params=params, headers={"X-Api-Key": live_api.operator_key})
        assert message in _error(r, 400)


def test_an_operator_key_is_required(live_api: LiveApi) -> None:
    with live_api.client() as c:
        assert "api_key required" in _error(c.get(URL), 401)
        assert "not valid" in _error(c.get(URL, headers={"X-Api-Key": "wrong"}), 401)
        r = c.get(URL, headers={"X-Api-Key": live_api.reporter_key})
        assert "operator is required" in _error(r, 403)


def test_answers_match_the_openapi_document(live_api: LiveApi, city: Seeded) -> None:
    with live_api.client() as c:
        doc = c.get("/openapi.json").json()
        items = _get(c, live_api.operator_key, since=(T0 - timedelta(days=30)).isoformat())
    get = doc["paths"][URL]["get"]
    assert {p["name"] for p in get["parameters"]} >= {
        "since", "until", "sector", "district", "kind", "lang"
    }  # fmt: skip
    schema = doc["components"]["schemas"]["TensionPoint"]
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert len(items) == 4
    for item in items:
        validator.validate(item)
    assert set(items[0]) == set(schema["properties"])
