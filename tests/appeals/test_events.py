"""POST /api/v1/events: other systems' events become routed, texted, correlated appeals.

Over real HTTP and a real PostgreSQL (the ``live_api`` fixture), signed as a sender would
sign them, with the webhooks' own signing function.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import httpx
import orjson
import pytest
import yaml

from appeals import (
    EventFacts,
    EventTexts,
    RoutingError,
    add_key,
    add_system_key,
    load_routing,
    parse_event,
    parse_routing,
)
from citypulse import EventIncidentType
from citypulse.cli import main
from citypulse.db import connect
from connectors import sign_webhook
from tests.appeals._db import count
from tests.fix_api import LiveApi

EVENTS = "/api/v1/events"
V2 = "/open311/v2"
# tl-kirova-teatralnaya stands at 54.5065, 36.2480, in the Ленинский округ
NEAR = {"lat": 54.5066, "lon": 36.2481}


@dataclass(frozen=True)
class Sender:
    key: str
    secret: str


@pytest.fixture
def safe_city(live_api: LiveApi) -> Sender:
    with connect(live_api.db_url) as conn:
        key, secret = add_system_key(conn, name="bg-video", source_system="safe_city")
        conn.commit()
    return Sender(key, secret)


def _now_iso(minutes_ago: float = 1) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def _event(event_id: str = "bg-1001", **fields: object) -> dict[str, object]:
    return {
        "source": "safe_city",
        "event_id": event_id,
        "type": "accident",
        "occurred_at": _now_iso(),
        "location": NEAR,
        "address": "ул. Кирова / ул. Театральная",
        "device_id": "BG-CAM-0451",
        "severity": 3,
        "description": "Столкновение двух легковых автомобилей, заняты две полосы",
        "extra": {"confidence": 0.93, "vehicles": 2},
        **fields,
    }


def _post(
    client: httpx.Client,
    sender: Sender,
    payload: object,
    *,
    timestamp: int | None = None,
    secret: str | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    raw = body if body is not None else orjson.dumps(payload)
    ts = int(time.time()) if timestamp is None else timestamp
    return client.post(
        EVENTS,
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Api-Key": sender.key,
            "X-Citypulse-Timestamp": str(ts),
            "X-Citypulse-Signature": sign_webhook(secret or sender.secret, ts, raw),
            **(headers or {}),
        },
    )


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body[0]["code"] == status
    return str(body[0]["description"])


def _counts(api: LiveApi) -> tuple[int, int, int]:
    with connect(api.db_url) as conn:
        return count(conn, "incidents"), count(conn, "appeals"), count(conn, "system_events")


def test_an_event_becomes_a_routed_system_appeal(live_api: LiveApi, safe_city: Sender) -> None:
    with live_api.client() as c:
        r = _post(c, safe_city, _event())
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["outcome"] == "opened"
        assert got["replayed"] is False
        req = c.get(f"{V2}/requests/{got['appeal_id']}.json").json()[0]
        assert req["source"] == "system"
        assert req["agency"] == "ГКУ «Центр организации дорожного движения»"
        assert req["sector"] == "Дороги"
        assert req["service_code"] == "road-accident"
        assert req["district"] == "Ленинский округ"
        assert req["expected_datetime"] is not None
        assert req["title"].startswith("ДТП — ул. Кирова / ул. Театральная, в ")
        assert "«Безопасный город»" in req["description"]
        assert "BG-CAM-0451" in req["description"]
        assert "safe_city" not in req["title"] + req["description"]
        # The queue filter knows the third source.
        listed = c.get(f"{V2}/requests.json", params={"source": "system"}).json()
        assert [x["service_request_id"] for x in listed] == [str(got["appeal_id"])]
    with connect(live_api.db_url) as conn:
        incident = conn.execute(
            "SELECT type, device_id, source_system, severity, status FROM incidents WHERE id = %s",
            (got["incident_id"],),
        ).fetchone()
        assert incident == ("road_accident", None, "safe_city", 3, "open")
        outbox = conn.execute(
            "SELECT connector, event FROM outbox WHERE appeal_id = %s ORDER BY connector",
            (got["appeal_id"],),
        ).fetchall()
        assert outbox == [("open311", "created"), ("webhook", "created")]
        # In the agency's SLA figures like any other appeal.
        figures = conn.execute(
            "SELECT appeals, open FROM agency_performance WHERE agency = %s",
            ("ГКУ «Центр организации дорожного движения»",),
        ).fetchone()
        assert figures == (1, 1)


def test_an_events_district_comes_from_the_boundaries(live_api: LiveApi, safe_city: Sender) -> None:
    """Inside the Oktyabrsky boundary, over 2 km from every device: no nearest device."""
    far = {"lat": 54.5350, "lon": 36.3100}
    with live_api.client() as c:
        r = _post(c, safe_city, _event("bg-far", location=far, device_id=None))
        assert r.status_code == 201, r.text
        req = c.get(f"{V2}/requests/{r.json()['appeal_id']}.json").json()[0]
        assert req["district"] == "Октябрьский округ"


def test_a_repeated_event_id_returns_the_first_answer_and_creates_nothing(
    live_api: LiveApi, safe_city: Sender
) -> None:
    payload = _event()
    with live_api.client() as c:
        first = _post(c, safe_city, payload)
        assert first.status_code == 201
        before = _counts(live_api)
        # The same event, keys in another order and signed again later: the same answer.
        again = _post(c, safe_city, dict(reversed(list(payload.items()))))
        assert again.status_code == 200, again.text
        assert again.json() == {**first.json(), "replayed": True}
        assert _counts(live_api) == before
        changed = _post(c, safe_city, {**payload, "severity": 4})
        assert "different body" in _error(changed, 409)
        assert _counts(live_api) == before


def test_a_repeat_of_the_situation_updates_the_open_incident(
    live_api: LiveApi, safe_city: Sender
) -> None:
    with connect(live_api.db_url) as conn:
        key, secret = add_system_key(conn, name="112", source_system="dispatch_112")
        conn.commit()
    dispatch = Sender(key, secret)
    with live_api.client() as c:
        first = _post(c, safe_city, _event(severity=2)).json()
        # 112 hears of the same accident 40 m away, and it is worse than the camera saw.
        moved = {"lat": NEAR["lat"] + 0.0003, "lon": NEAR["lon"]}
        second = _post(
            c,
            dispatch,
            _event("112-77", source="dispatch_112", location=moved, severity=4, address=""),
        )
        assert second.status_code == 201, second.text
        got = second.json()
        assert got["outcome"] == "updated"
        assert (got["incident_id"], got["appeal_id"]) == (first["incident_id"], first["appeal_id"])
        # Elsewhere in town it is another accident.
        far = _post(
            c,
            safe_city,
            _event("bg-2002", location={"lat": 54.53, "lon": 36.30}, device_id="BG-CAM-0999"),
        )
        assert far.json()["outcome"] == "opened"
        assert far.json()["incident_id"] != first["incident_id"]
        detail = c.get(
            f"/api/v1/appeals/{first['appeal_id']}", headers={"X-Api-Key": live_api.operator_key}
        ).json()
        notes = [e["note"] for e in detail["events"]]
        assert any("Повторное сообщение: Система-112, № 112-77" in n for n in notes), notes
        # A crowd that grows: the repeat raises the appeal's priority (3 by its route).
        crowd = {"type": "crowd", "device_id": "BG-CAM-0102", "severity": 2}
        small = _post(c, safe_city, _event("bg-3001", **crowd)).json()
        grown = _post(c, safe_city, _event("bg-3002", **{**crowd, "severity": 4})).json()
        assert grown["outcome"] == "updated"
        assert grown["appeal_id"] == small["appeal_id"]
        detail = c.get(
            f"/api/v1/appeals/{small['appeal_id']}", headers={"X-Api-Key": live_api.operator_key}
        ).json()
        assert detail["priority"] == 4
        assert "приоритет повышен до 4" in detail["events"][-1]["note"]
    with connect(live_api.db_url) as conn:
        alarms = conn.execute(
            "SELECT alarms, severity, jsonb_array_length(evidence->'reports') FROM incidents"
            " WHERE id = %s",
            (first["incident_id"],),
        ).fetchone()
        assert alarms == (2, 4, 2)
        updates = conn.execute(
            "SELECT count(*) FROM outbox WHERE appeal_id = %s AND event = 'updated'",
            (first["appeal_id"],),
        ).fetchone()
        assert updates == (2,)  # one per connector


def test_signatures_are_checked_and_stale_ones_refused(
    live_api: LiveApi, safe_city: Sender
) -> None:
    with live_api.client() as c:
        assert "mismatch" in _error(_post(c, safe_city, _event(), secret="cps_wrong"), 401)
        stale = int(time.time()) - 6 * 60
        assert "outside" in _error(_post(c, safe_city, _event(), timestamp=stale), 401)
        signed = orjson.dumps(_event())
        tampered = signed.replace(b'"severity":3', b'"severity":1')
        r = c.post(
            EVENTS,
            content=tampered,
            headers={
                "Content-Type": "application/json",
                "X-Api-Key": safe_city.key,
                "X-Citypulse-Timestamp": str(int(time.time())),
                "X-Citypulse-Signature": sign_webhook(safe_city.secret, int(time.time()), signed),
            },
        )
        assert "mismatch" in _error(r, 401)
        unsigned = c.post(
            EVENTS,
            json=_event(),
            headers={"X-Api-Key": safe_city.key},
        )
        assert "missing" in _error(unsigned, 401)
        assert "X-Api-Key" in _error(c.post(EVENTS, json=_event()), 401)
        bad_key = Sender("cp_not-a-key", safe_city.secret)
        assert "not valid" in _error(_post(c, bad_key, _event()), 401)
    assert _counts(live_api) == (0, 0, 0)


def test_only_system_keys_send_events_and_they_do_nothing_else(
    live_api: LiveApi, safe_city: Sender
) -> None:
    with live_api.client() as c:
        for key in (live_api.reporter_key, live_api.operator_key, live_api.admin_key):
            r = _post(c, Sender(key, "any"), _event())
            assert "system is required" in _error(r, 403)
        report = c.post(
            f"{V2}/requests.json",
            data={"service_code": "road-accident", "lat": "54.5", "long": "36.2"},
            headers={"X-Api-Key": safe_city.key},
        )
        assert "reporter is required" in _error(report, 403)
        opened = _post(c, safe_city, _event()).json()
        for action in ("accept", "close"):
            r = c.post(
                f"/api/v1/appeals/{opened['appeal_id']}/{action}",
                headers={"X-Api-Key": safe_city.key},
            )
            assert "operator is required" in _error(r, 403)
        read = c.get(f"/api/v1/appeals/{opened['appeal_id']}", headers={"X-Api-Key": safe_city.key})
        assert _error(read, 403)
        # A key speaks for its own system only.
        other = _post(c, safe_city, _event("x-1", source="gzhi", type="housing_violation"))
        assert "safe_city only" in _error(other, 403)


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"occurred_at": None}, 400, "occurred_at: required"),
        ({"occurred_at": "2026-11-25T08:14:00"}, 400, "occurred_at: give the time zone offset"),
        ({"occurred_at": "вчера"}, 400, "occurred_at: expected ISO 8601"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, 422, "occurred_at: in the future"),
        ({"event_id": ""}, 400, "event_id: required"),
        ({"event_id": "has spaces"}, 400, "event_id: 1 to 200"),
        ({"source": None}, 400, "source: required"),
        ({"type": 5}, 400, "type: expected a string"),
        ({"type": "earthquake"}, 422, "type: 'earthquake' is not an event type of safe_city"),
        ({"location": {"lat": 95, "lon": 36}}, 400, "location.lat: must be between"),
        ({"location": {"lat": "54.5", "lon": 36}}, 400, "location.lat: expected a number"),
        ({"location": [54.5, 36.2]}, 400, "location: expected"),
        ({"location": {"lat": 54.5}}, 400, "location: give both"),
        ({"location": None, "address": ""}, 400, "location or address"),
        ({"severity": 7}, 400, "severity: expected an integer 1"),
        ({"severity": True}, 400, "severity: expected an integer 1"),
        ({"extra": "text"}, 400, "extra: expected a JSON object"),
        ({"description": "a\x00b"}, 400, "description: control characters"),
        ({"speed_kmh": 40}, 400, "unknown field(s) speed_kmh"),
    ],
)
def test_invalid_events_are_refused_with_the_field_named(
    live_api: LiveApi,
    safe_city: Sender,
    change: dict[str, object],
    status: int,
    message: str,
) -> None:
    payload: dict[str, Any] = {k: v for k, v in {**_event(), **change}.items() if v is not None}
    with live_api.client() as c:
        assert message in _error(_post(c, safe_city, payload), status)
    assert _counts(live_api) == (0, 0, 0)


def test_bodies_that_are_not_a_json_object(live_api: LiveApi, safe_city: Sender) -> None:
    with live_api.client() as c:
        assert "not valid JSON" in _error(_post(c, safe_city, None, body=b"{oops"), 400)
        assert "JSON object" in _error(_post(c, safe_city, [1, 2]), 400)
        form = _post(
            c,
            safe_city,
            None,
            body=b"a=b",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert "application/json" in _error(form, 415)
        big = _post(c, safe_city, _event(description="x" * 20_000))
        assert _error(big, 413)


def test_an_event_confirms_a_citizens_report_nearby(live_api: LiveApi, safe_city: Sender) -> None:
    with live_api.client() as c:
        r = c.post(
            f"{V2}/requests.json",
            data={
                "api_key": live_api.reporter_key,
                "service_code": "road-accident",
                "lat": "54.5068",
                "long": "36.2484",
                "description": "Авария на перекрёстке, машины стоят",
            },
        )
        assert r.status_code == 201, r.text
        citizen = int(r.json()[0]["service_request_id"])
        event = _post(c, safe_city, _event()).json()
        detail = c.get(
            f"/api/v1/appeals/{citizen}", headers={"X-Api-Key": live_api.operator_key}
        ).json()
        assert detail["confirmed_by_sensors"] is True
        assert [(x["appeal_id"], x["linked_id"], x["reason"]) for x in detail["links"]] == [
            (citizen, event["appeal_id"], "confirms")
        ]
        notes = [e["note"] for e in detail["events"]]
        assert any(
            n.startswith(
                f"Подтверждено данными объективного контроля: обращение №{event['appeal_id']}"
            )
            for n in notes
        ), notes


@pytest.mark.parametrize("incident_type", list(EventIncidentType))
def test_every_event_incident_type_has_a_route_and_plain_texts(
    incident_type: EventIncidentType,
) -> None:
    routing = load_routing()
    route = routing.event_route(incident_type)
    assert route.sector in routing.sectors
    assert routing.service(route.service_code) is not None
    assert route.agency
    assert 1 <= route.priority <= 4
    assert route.deadline > timedelta(0)
    texts = EventTexts(timezone=routing.timezone)
    facts = EventFacts(
        incident_type=incident_type,
        source_name=("Система-112", "the 112 dispatch service"),
        event_id="112-4417",
        occurred_at=datetime(2026, 11, 25, 5, 14, tzinfo=UTC),  # 08:14 in Moscow
        lat=54.5066,
        lon=36.2481,
        address="ул. Кирова, 12",
        district="Ленинский округ",
        device_id="BG-CAM-0451",
        severity=3,
        description="Со слов заявителя",
        utility="heating",
    )
    ru = texts.render(facts)
    en = texts.render(facts, locale="en")
    assert "ул. Кирова, 12" in ru.title
    assert "08:14" in ru.title
    assert "08:14" in en.title
    assert ru.title != en.title
    assert "Время события: 25.11.2026 08:14 МСК." in ru.description
    assert "Время события:" in ru.description
    assert "Happened: 25.11.2026 08:14 MSK." in en.description
    assert "Источник: Система-112, устройство BG-CAM-0451, сообщение № 112-4417." in ru.description
    assert "Source: the 112 dispatch service, device BG-CAM-0451, event 112-4417." in en.description
    assert "Оценка отправителя: высокая (3 из 4)." in ru.description
    for text in (ru.title, ru.description, en.title, en.description):
        assert incident_type.value not in text  # no internal names
        assert "None" not in text
    # Russian texts are Russian: their head is in Cyrillic.
    assert any("а" <= ch <= "я" for ch in ru.title.lower())
    assert not any("а" <= ch <= "я" for ch in en.title.split(" — ")[0].lower())
    note = texts.repeated_note(facts)
    assert note == "Повторное сообщение: Система-112, № 112-4417, в 08:14 МСК 25.11.2026"


def test_an_outage_says_what_is_missing_and_since_when() -> None:
    facts = EventFacts(
        incident_type=EventIncidentType.UTILITY_OUTAGE,
        source_name=("Госжилинспекция", "the housing inspection"),
        event_id="g-9",
        occurred_at=datetime(2026, 11, 25, 5, 14, tzinfo=UTC),
        address="ул. Ленина, 5",
        utility="hot_water",
    )
    texts = EventTexts()
    assert (
        texts.render(facts).title
        == "Авария на сетях: нет горячей воды — ул. Ленина, 5, с 08:14 МСК"
    )
    assert (
        texts.render(facts, locale="en").title
        == "Utility outage: no hot water — ул. Ленина, 5, since 08:14 MSK"
    )


def test_cli_makes_a_system_key_with_its_signing_secret(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--database-url", db_url, "keys", "add", "--name", "bg", "--role", "system"]
    assert main(base) == 2
    assert "--system" in capsys.readouterr().err
    assert main([*base, "--system", "nowhere"]) == 2
    assert "not in the routing file" in capsys.readouterr().err
    assert main([*base, "--system", "safe_city"]) == 0
    key, secret = capsys.readouterr().out.split()
    assert key.startswith("cp_")
    assert secret.startswith("cps_")
    with connect(db_url) as conn:
        row = conn.execute(
            "SELECT role, source_system, signing_secret, key_hash FROM api_keys WHERE name = 'bg'"
        ).fetchone()
        assert row is not None
        assert row[:3] == ("system", "safe_city", secret)
        assert key.encode() not in bytes(row[3])
        with pytest.raises(ValueError, match="system"):
            add_key(conn, name="x", role="system")
    reporter = ["--database-url", db_url, "keys", "add", "--name", "r", "--role", "reporter"]
    assert main([*reporter, "--system", "safe_city"]) == 2


def test_the_documented_examples_are_accepted_as_they_stand(
    live_api: LiveApi, safe_city: Sender
) -> None:
    with live_api.client() as c:
        doc = c.get("/openapi.json").json()
    post = doc["paths"]["/api/v1/events"]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    routing = load_routing()
    assert set(examples) == set(routing.events.sources)
    for example in examples.values():
        event = parse_event(example["value"], routing)
        assert event.occurred_at.tzinfo is not None
    with connect(live_api.db_url) as conn:
        keys = {
            source: Sender(*add_system_key(conn, name=f"k-{source}", source_system=source))
            for source in ("dispatch_112", "gzhi")
        }
        conn.commit()
    keys["safe_city"] = safe_city
    with live_api.client() as c:
        for source, example in examples.items():
            r = _post(c, keys[source], example["value"])
            assert r.status_code == 201, (source, r.text)
            req = c.get(f"{V2}/requests/{r.json()['appeal_id']}.json").json()[0]
            assert req["agency"]
            assert req["expected_datetime"]
    assert (
        "system" in doc["components"]["schemas"]["ServiceRequest"]["properties"]["source"]["enum"]
    )


def _default_routing_doc() -> dict[str, Any]:
    text = resources.files("appeals").joinpath("routing.default.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (lambda d: d["routes"].pop("fire"), "routes", "no route for incident type(s) fire"),
        (
            lambda d: d["routes"]["crowd"].update(kinds={"camera": {"priority": 1}}),
            "routes.crowd",
            "unknown key(s) kinds",
        ),
        (
            lambda d: d["events"]["sources"]["gzhi"]["types"].update(flood="flood"),
            "events.sources.gzhi.types.flood",
            "'flood' is not one of road_accident",
        ),
        (
            lambda d: d["events"]["sources"].update({"bad name": d["events"]["sources"]["gzhi"]}),
            "events.sources.bad name",
            "letters, digits",
        ),
        (
            lambda d: d["events"]["sources"]["gzhi"].update(types={}),
            "events.sources.gzhi.types",
            "at least one",
        ),
        (lambda d: d["events"]["dedup"].update(window="soon"), "events.dedup.window", "duration"),
        (
            lambda d: d["events"]["dedup"].update(distance_m=0),
            "events.dedup.distance_m",
            "positive",
        ),
        (lambda d: d["events"].update(senders={}), "events", "unknown key(s) senders"),
    ],
)
def test_the_events_section_of_the_routing_file_is_validated(
    edit: Any, where: str, message: str
) -> None:
    doc = _default_routing_doc()
    edit(doc)
    with pytest.raises(RoutingError, match=re.escape(message)) as caught:
        parse_routing(yaml.safe_dump(doc, allow_unicode=True), source="test.yaml")
    assert caught.value.where == where


def test_concurrent_senders_make_one_incident(live_api: LiveApi, safe_city: Sender) -> None:
    from concurrent.futures import ThreadPoolExecutor

    same = _event("bg-race")
    elsewhere = {"lat": 54.52, "lon": 36.28}
    repeats = [
        _event(f"bg-race-{i}", device_id="BG-CAM-0777", location=elsewhere) for i in range(4)
    ]

    def send(payload: dict[str, object]) -> httpx.Response:
        with live_api.client() as c:
            return _post(c, safe_city, payload)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(send, [same] * 4))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200, 200, 200, 201], [r.text for r in answers]
        assert len({r.json()["appeal_id"] for r in answers}) == 1
        outcomes = [r.json() for r in pool.map(send, repeats)]
    assert sorted(o["outcome"] for o in outcomes) == ["opened", "updated", "updated", "updated"]
    assert len({o["incident_id"] for o in outcomes}) == 1
    assert _counts(live_api) == (2, 2, 5)
