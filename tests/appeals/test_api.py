"""The Open311 GeoReport v2 API and operators' actions over real HTTP."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from citypulse import IncidentType
from citypulse.db import connect
from tests.appeals._db import sensor_appeals
from tests.fix_api import API_MAX_BODY, BOOTSTRAP_OPERATOR_KEY, LiveApi

V2 = "/open311/v2"
# tl-kirova-teatralnaya stands at 54.5065, 36.2480
NEAR = {"lat": "54.5070", "long": "36.2482"}


def _report(api: LiveApi, client: httpx.Client, **fields: str) -> str:
    data = {"api_key": api.reporter_key, "service_code": "traffic-signal", **NEAR, **fields}
    r = client.post(f"{V2}/requests.json", data=data)
    assert r.status_code == 201, r.text
    body = r.json()
    assert isinstance(body, list)
    return str(body[0]["service_request_id"])


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body, list)
    assert body[0]["code"] == status
    assert body[0]["description"]
    return str(body[0]["description"])


def test_services_in_json_and_xml(live_api: LiveApi) -> None:
    with live_api.client() as c:
        services = c.get(f"{V2}/services.json").json()
        codes = {s["service_code"] for s in services}
        assert {"traffic-signal", "air-quality", "waste"} <= codes
        signal = next(s for s in services if s["service_code"] == "traffic-signal")
        assert signal["group"] == "Дороги"
        assert signal["type"] == "realtime"
        assert signal["metadata"] is False
        r = c.get(f"{V2}/services.xml")
        assert r.headers["content-type"].startswith("text/xml")
        root = ET.fromstring(r.content)
        assert root.tag == "services"
        assert len(root.findall("service")) == len(services)
        assert root.find("service/service_name") is not None
        assert (
            c.get(f"{V2}/services/traffic-signal.json").json()["service_code"] == "traffic-signal"
        )
        xml = ET.fromstring(c.get(f"{V2}/services/air-quality.xml").content)
        assert xml.tag == "service_definition"
        assert xml.findtext("service_code") == "air-quality"
        assert "no service" in _error(c.get(f"{V2}/services/nope.json"), 404)
        r = c.get(f"{V2}/services/nope.xml")
        assert r.status_code == 404
        assert ET.fromstring(r.content).findtext("error/code") == "404"


def test_report_round_trip_json_and_xml(live_api: LiveApi) -> None:
    with live_api.client() as c:
        rid = _report(
            live_api,
            c,
            description="Светофор горит красным уже 10 минут",
            email="ivanov@example.ru",
            phone="+7 900 000-00-00",
            media_url="https://example.ru/photo.jpg",
        )
        got = c.get(f"{V2}/requests/{rid}.json").json()
        assert len(got) == 1
        req = got[0]
        assert req["service_request_id"] == rid
        assert req["status"] == "open"
        assert req["citypulse_status"] == "new"
        assert req["source"] == "citizen"
        assert req["sector"] == "Дороги"
        assert req["agency"] == "МКУ «Управление дорожного хозяйства»"
        assert req["district"] == "Ленинский округ"  # from the nearest device
        assert req["title"].startswith("Неисправность светофора: Светофор горит красным")
        assert req["expected_datetime"] is not None
        assert req["media_url"] == "https://example.ru/photo.jpg"
        assert "ivanov@example.ru" not in c.get(f"{V2}/requests/{rid}.json").text  # contact private
        root = ET.fromstring(c.get(f"{V2}/requests/{rid}.xml").content)
        assert root.tag == "service_requests"
        assert root.findtext("request/service_request_id") == rid
        assert root.findtext("request/status") == "open"
        # A JSON body works too; the reply can be XML.
        r = c.post(
            f"{V2}/requests.xml",
            json={"service_code": "waste", "lat": 54.51, "long": 36.25, "description": "Мусор"},
            headers={"X-Api-Key": live_api.reporter_key},
        )
        assert r.status_code == 201
        assert ET.fromstring(r.content).findtext("request/service_request_id")
    with connect(live_api.db_url) as conn:
        contact = conn.execute("SELECT contact FROM appeals WHERE id = %s", (int(rid),)).fetchone()
        assert contact == ({"email": "ivanov@example.ru", "phone": "+7 900 000-00-00"},)
        outbox = conn.execute(
            "SELECT connector, event FROM outbox WHERE appeal_id = %s ORDER BY connector",
            (int(rid),),
        ).fetchall()
        assert outbox == [("open311", "created"), ("webhook", "created")]


def test_idempotency_key_returns_the_first_request(live_api: LiveApi) -> None:
    with live_api.client() as c:
        headers = {"Idempotency-Key": "appeal-17-created-40", "X-Api-Key": live_api.reporter_key}
        data = {"service_code": "traffic-signal", **NEAR}
        first = c.post(f"{V2}/requests.json", data=data, headers=headers)
        again = c.post(f"{V2}/requests.json", data=data, headers=headers)
        assert first.status_code == 201
        assert again.status_code == 200
        assert first.json() == again.json()
        assert len(c.get(f"{V2}/requests.json").json()) == 1


def test_filters_and_paging(live_api: LiveApi) -> None:
    sensor_ids = sensor_appeals(
        live_api.db_url,
        (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya"),
        (IncidentType.AIR_QUALITY_EXCEEDANCE, "eco-oktyabrsky-1"),
        (IncidentType.PARKING_FULL, "pk-leninsky-1"),
    )
    with live_api.client() as c:
        citizen = [_report(live_api, c, description=f"обращение {i}") for i in range(3)]
        everything = c.get(f"{V2}/requests.json")
        assert everything.headers["x-total-count"] == "6"
        assert everything.headers["x-total-count-capped"] == "false"
        assert len(everything.json()) == 6

        def ids(**params: str) -> set[str]:
            r = c.get(f"{V2}/requests.json", params=params)
            assert r.status_code == 200, r.text
            return {x["service_request_id"] for x in r.json()}

        assert ids(source="citizen") == set(citizen)
        assert ids(source="sensor") == {str(i) for i in sensor_ids}
        assert ids(service_code="air-quality") == {str(sensor_ids[1])}
        assert ids(service_code="air-quality,parking") == {str(sensor_ids[1]), str(sensor_ids[2])}
        assert ids(sector="Экология") == {str(sensor_ids[1])}
        assert ids(agency="МКУ «Городские парковки»") == {str(sensor_ids[2])}
        assert ids(district="Октябрьский округ") == {str(sensor_ids[1])}
        assert ids(service_request_id=f"{citizen[0]},{sensor_ids[0]}", source="sensor") == {
            citizen[0],
            str(sensor_ids[0]),
        }  # with ids the other filters are ignored, as the specification says
        # Close one, make one overdue.
        r = c.post(
            f"/api/v1/appeals/{sensor_ids[0]}/reject",
            json={"note": "дубль"},
            headers={"X-Api-Key": live_api.operator_key},
        )
        assert r.status_code == 200, r.text
        with connect(live_api.db_url) as conn:
            conn.execute(
                "UPDATE appeals SET expected_at = now() - interval '1 minute' WHERE id = %s",
                (sensor_ids[2],),
            )
            conn.commit()
        assert ids(status="closed") == {str(sensor_ids[0])}
        assert len(ids(status="open")) == 5
        assert len(ids(status="open,closed")) == 6
        assert ids(overdue="true") == {str(sensor_ids[2])}
        assert len(ids(overdue="false")) == 5
        now = datetime.now(UTC)
        assert len(ids(start_date=(now - timedelta(hours=1)).isoformat())) == 6
        assert ids(end_date=(now - timedelta(hours=1)).isoformat()) == set()
        assert ids(start_date="2000-01-01T00:00:00Z", end_date="2000-02-01T00:00:00+03:00") == set()
        # Paging: newest first, no overlap, all covered.
        pages = [
            [
                x["service_request_id"]
                for x in c.get(f"{V2}/requests.json", params={"page_size": 4, "page": p}).json()
            ]
            for p in (1, 2, 3)
        ]
        assert [len(p) for p in pages] == [4, 2, 0]
        assert set(pages[0]) | set(pages[1]) == ids()
        assert pages[0][0] == citizen[-1]
        xml = ET.fromstring(c.get(f"{V2}/requests.xml", params={"page_size": 2}).content)
        assert len(xml.findall("request")) == 2
        # A sensor appeal in XML carries its evidence as nested elements.
        xml = ET.fromstring(c.get(f"{V2}/requests/{sensor_ids[1]}.xml").content)
        assert xml.findtext("request/source") == "sensor"
        assert xml.findtext("request/evidence/device_id") == "eco-oktyabrsky-1"
        link = xml.findtext("request/evidence/grafana_url") or ""
        assert "/d/citypulse-air?var-device=eco-oktyabrsky-1&from=" in link
        assert xml.findtext("request/confirmed_by_sensors") == "false"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_date": "вчера"}, "start_date"),
        ({"end_date": "2026-13-45"}, "end_date"),
        ({"start_date": "2026-11-25T00:00:00Z", "end_date": "2026-11-24T00:00:00Z"}, "before"),
        ({"service_code": "no-such-service"}, "unknown service"),
        ({"status": "pending"}, "status"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page_size": "5000"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"service_request_id": "1,abc"}, "service_request_id"),
        ({"service_request_id": "99999999999999999999"}, "service_request_id"),
        ({"source": "drone"}, "source"),
        ({"sector": "Космос"}, "sector"),
        ({"overdue": "maybe"}, "overdue"),
        ({"agency": "a\x00b"}, "control characters"),
        ({"agency": "x" * 300}, "at most"),
    ],
)
def test_bad_filters_get_400_with_a_message(
    live_api: LiveApi, params: dict[str, str], message: str
) -> None:
    with live_api.client() as c:
        assert message in _error(c.get(f"{V2}/requests.json", params=params), 400)


def test_bad_reports_get_4xx_with_a_message(live_api: LiveApi) -> None:
    key = live_api.reporter_key
    with live_api.client() as c:

        def post(status: int, data: dict[str, str] | None = None, **kw: object) -> str:
            return _error(c.post(f"{V2}/requests.json", data=data, **kw), status)  # type: ignore[arg-type]

        assert "api_key required" in post(401, {"service_code": "waste", **NEAR})
        assert "not valid" in post(401, {"api_key": "guess", "service_code": "waste", **NEAR})
        assert "unknown service" in post(400, {"api_key": key, "service_code": "ufo", **NEAR})
        assert "service_code: required" in post(400, {"api_key": key, **NEAR})
        assert "lat" in post(
            400, {"api_key": key, "service_code": "waste", "lat": "91", "long": "30"}
        )
        assert "long" in post(
            400, {"api_key": key, "service_code": "waste", "lat": "54", "long": "east"}
        )
        assert "long" in post(
            400, {"api_key": key, "service_code": "waste", "lat": "54", "long": "nan"}
        )
        assert "give both" in post(400, {"api_key": key, "service_code": "waste", "lat": "54"})
        assert "location" in post(400, {"api_key": key, "service_code": "waste"})
        assert "description" in post(
            400, {"api_key": key, "service_code": "waste", **NEAR, "description": "x" * 4001}
        )
        assert "media_url" in post(
            400,
            {"api_key": key, "service_code": "waste", **NEAR, "media_url": "javascript:alert(1)"},
        )
        big = {"api_key": key, "service_code": "waste", **NEAR, "description": "я" * API_MAX_BODY}
        assert "larger than" in post(413, big)
        assert "not valid JSON" in post(
            400, content=b"{", headers={"content-type": "application/json", "X-Api-Key": key}
        )
        assert "JSON object" in post(
            400, content=b"[1]", headers={"content-type": "application/json", "X-Api-Key": key}
        )
        nested = b'{"service_code": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        assert "JSON" in post(
            400, content=nested, headers={"content-type": "application/json", "X-Api-Key": key}
        )
        assert "form" in post(
            415, content=b"<x/>", headers={"content-type": "text/xml", "X-Api-Key": key}
        )
        assert "UTF-8" in post(
            400,
            content=b"service_code=\xff",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        # A stream with no Content-Length is cut off at the limit too.
        chunks = iter([b"description=" + b"a" * 1024] * 64)
        assert "larger than" in post(
            413, content=chunks, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        # Unknown routes, formats and methods answer in the same format.
        assert _error(c.get(f"{V2}/nothing.json"), 404)
        assert "json or .xml" in _error(c.get(f"{V2}/requests.yaml"), 404)
        assert _error(c.delete(f"{V2}/requests.json"), 405)
        assert "service_request_id" in _error(c.get(f"{V2}/requests/abc.json"), 400)
        assert "no service request" in _error(c.get(f"{V2}/requests/424242.json"), 404)


def test_operator_actions_need_an_operator_key_and_feed_back_to_the_incident(
    live_api: LiveApi,
) -> None:
    (appeal_id,) = sensor_appeals(
        live_api.db_url, (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya")
    )
    base = f"/api/v1/appeals/{appeal_id}"
    with live_api.client() as c:
        assert "api_key required" in _error(c.post(f"{base}/accept"), 401)
        reporter = {"X-Api-Key": live_api.reporter_key}
        assert "operator is required" in _error(c.post(f"{base}/accept", headers=reporter), 403)
        assert _error(c.get(base, headers=reporter), 403)
        parking = {"X-Api-Key": live_api.agency_operator_key}
        # Another agency's appeal is not there for this key (a 403 would tell it is).
        assert _error(c.post(f"{base}/accept", headers=parking), 404) == f"no appeal {appeal_id}"
        op = {"X-Api-Key": live_api.operator_key}
        assert _error(c.post(f"{base}/explode", headers=op), 404)
        assert _error(c.post("/api/v1/appeals/999999/accept", headers=op), 404)
        r = c.post(f"{base}/accept", data={"note": "принято в работу"}, headers=op)
        assert r.status_code == 200, r.text
        assert r.json()["citypulse_status"] == "accepted"
        assert "cannot become accepted" in _error(c.post(f"{base}/accept", headers=op), 409)
        boot = {"X-Api-Key": BOOTSTRAP_OPERATOR_KEY}
        assert (
            c.post(f"{base}/progress", json={"note": "бригада выехала"}, headers=boot).status_code
            == 200
        )
        assert (
            c.post(
                f"{base}/resolve", json={"note": "контроллер перезагружен"}, headers=op
            ).status_code
            == 200
        )
        r = c.post(
            f"{base}/close", json={"note": "проверено"}, headers={"X-Api-Key": live_api.admin_key}
        )
        assert r.status_code == 200
        assert r.json()["status"] == "closed"
        detail = c.get(base, headers=op).json()
        assert [e["status"] for e in detail["events"]] == [
            "new",
            "accepted",
            "in_progress",
            "resolved",
            "closed",
        ]
        assert detail["events"][2]["actor"] == "env-1"
        assert detail["events"][1]["note"] == "принято в работу"
    with connect(live_api.db_url) as conn:
        row = conn.execute("SELECT status, closed_by FROM incidents").fetchone()
        assert row == ("closed", "test-admin")
        updates = conn.execute(
            "SELECT count(*) FROM outbox WHERE appeal_id = %s AND event = 'updated'", (appeal_id,)
        ).fetchone()
        assert updates == (4 * 2,)  # four actions, two connectors


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE appeals; --",
    "1; SELECT pg_sleep(5)",
    '" OR ""="',
    "%' OR 1=1 --",
    "\\'; SELECT * FROM api_keys; --",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
    "1 UNION SELECT key_hash FROM api_keys",
    "𝕏" * 10,
]
FILTERS = [
    "service_request_id", "service_code", "start_date", "end_date", "status", "page",
    "page_size", "source", "sector", "agency", "district", "overdue", "jurisdiction_id",
]  # fmt: skip


def test_injection_strings_in_every_filter(live_api: LiveApi) -> None:
    sensor_appeals(live_api.db_url, (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya"))
    with live_api.client() as c:
        for name in FILTERS:
            for payload in INJECTIONS:
                r = c.get(f"{V2}/requests.json", params={name: payload})
                assert r.status_code in (200, 400), (name, payload, r.status_code, r.text)
                text = r.text.lower()
                # Messages may quote the input back, but nothing from inside the server.
                for leak in ("psycopg", "syntax error", "traceback", "sqlstate", "cp_"):
                    assert leak not in text, (name, payload, r.text)
                if r.status_code == 200:
                    # Matched as plain text: nothing is named like an injection string.
                    assert r.json() == [] or name == "jurisdiction_id", (name, payload)
            r = c.get(f"{V2}/requests/{INJECTIONS[0]}.json")
            assert r.status_code == 400
        for payload in INJECTIONS:
            r = c.post(
                f"{V2}/requests.json",
                data={"api_key": payload, "service_code": payload, **NEAR},
            )
            assert r.status_code == 401
            r = c.post(
                f"{V2}/requests.json",
                data={
                    "api_key": live_api.reporter_key,
                    "service_code": "waste",
                    **NEAR,
                    "description": payload,
                    "address_string": payload,
                },
            )
            assert r.status_code == 201
    with connect(live_api.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM appeals").fetchone() == (1 + len(INJECTIONS),)
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone() == (4,)


def test_health_and_openapi(live_api: LiveApi) -> None:
    with live_api.client() as c:
        assert c.get("/health").json() == {"status": "ok", "database": "ok"}
        doc = c.get("/openapi.json").json()
        assert doc["openapi"].startswith("3.")
        assert f"{V2}/requests.{{fmt}}" in doc["paths"]
        assert "post" in doc["paths"][f"{V2}/requests.{{fmt}}"]


def test_another_citypulse_forwarding_an_appeal(live_api: LiveApi) -> None:
    """The shape an edge instance's Open311 client posts: form fields, attribute[...] with
    its context, the outbox idempotency key as header and as attribute[external_id]."""
    key = "appeal-42-created-97"
    form = {
        "api_key": live_api.reporter_key,
        "service_code": "traffic-signal",
        "lat": repr(54.5065),
        "long": repr(36.248),
        "description": "Светофорный объект …: фаза «красный» не переключается с 08:14 МСК\n\n[citypulse:appeal-42-created-97]",
        "attribute[external_id]": key,
        "attribute[citypulse_appeal_id]": "42",
        "attribute[title]": "Светофорный объект на перекрёстке ул. Кирова — ул. Театральная: "
        + "ж" * 300,
        "attribute[priority]": "4",
        "attribute[source]": "sensor",
        "attribute[sector]": "Дороги",
    }
    with live_api.client() as c:
        first = c.post(f"{V2}/requests.json", data=form, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        again = c.post(f"{V2}/requests.json", data=form)  # no header: the attribute suffices
        assert again.status_code == 200
        rid = first.json()[0]["service_request_id"]
        assert again.json()[0]["service_request_id"] == rid
        found = c.get(f"{V2}/requests.json", params={"external_id": key}).json()
        assert [r["service_request_id"] for r in found] == [rid]
        item = found[0]
        assert item["external_id"] == key
        assert item["priority"] == 4
        assert item["title"].startswith("Светофорный объект на перекрёстке ул. Кирова")
        assert item["evidence"]["attributes"]["source"] == "sensor"
        assert "[citypulse:appeal-42-created-97]" in item["description"]
        assert c.get(f"{V2}/requests.json", params={"external_id": "other"}).json() == []
        bad = {**form, "attribute[priority]": "9", "attribute[external_id]": "x"}
        assert "priority" in _error(c.post(f"{V2}/requests.json", data=bad), 400)
