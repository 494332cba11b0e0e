"""Transfer, notes and duplicates over real HTTP: each writes history and the outbox."""

from __future__ import annotations

from typing import Any

import httpx

from citypulse import IncidentType
from citypulse.db import connect
from tests.appeals._db import sensor_appeals
from tests.fix_api import LiveApi

PARKING = "МКУ «Городские парковки»"
ROADS = "МКУ «Управление дорожного хозяйства»"


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    return str(r.json()[0]["description"])


def _rows(db_url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with connect(db_url) as conn:
        return conn.execute(query, params).fetchall()


def test_transfer_moves_the_appeal_and_tells_history_and_outbox(live_api: LiveApi) -> None:
    (appeal_id,) = sensor_appeals(
        live_api.db_url, (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya")
    )
    base = f"/api/v1/appeals/{appeal_id}"
    op = {"X-Api-Key": live_api.operator_key}
    parking = {"X-Api-Key": live_api.agency_operator_key}
    with live_api.client() as c:
        # Not the parking agency's appeal (yet): to its operator it does not exist.
        assert f"no appeal {appeal_id}" in _error(
            c.post(f"{base}/transfer", data={"agency": PARKING, "reason": "x"}, headers=parking),
            404,
        )
        assert "reason: required" in _error(
            c.post(f"{base}/transfer", data={"agency": PARKING}, headers=op), 400
        )
        assert "agency" in _error(
            c.post(f"{base}/transfer", data={"agency": "ООО Ромашка", "reason": "x"}, headers=op),
            400,
        )
        r = c.post(
            f"{base}/transfer",
            json={"agency": PARKING, "reason": "светофор у въезда на парковку"},
            headers=op,
        )
        assert r.status_code == 200, r.text
        assert r.json()["agency_responsible"] == PARKING
        # Now it is the parking agency's: its operator sees and acts on it.
        assert c.get(base, headers=parking).status_code == 200
        assert "already there" in _error(
            c.post(f"{base}/transfer", data={"agency": PARKING, "reason": "x"}, headers=parking),
            400,
        )
        events = c.get(base, headers=op).json()["events"]
    assert events[-1]["status"] == "new"
    assert "→ " + PARKING in events[-1]["note"]
    assert "светофор у въезда" in events[-1]["note"]
    assert events[-1]["actor"] == "test-operator"
    outbox = _rows(
        live_api.db_url,
        "SELECT payload->>'agency_responsible', payload->>'status_notes' FROM outbox"
        " WHERE appeal_id = %s AND event = 'updated'",
        appeal_id,
    )
    assert len(outbox) == 2  # one per connector
    assert {row[0] for row in outbox} == {PARKING}
    assert all("светофор у въезда" in row[1] for row in outbox)


def test_notes_on_any_status_and_none_empty(live_api: LiveApi) -> None:
    (appeal_id,) = sensor_appeals(
        live_api.db_url, (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya")
    )
    base = f"/api/v1/appeals/{appeal_id}"
    op = {"X-Api-Key": live_api.operator_key}
    with live_api.client() as c:
        assert "api_key required" in _error(c.post(f"{base}/notes", data={"note": "x"}), 401)
        assert "note: required" in _error(
            c.post(f"{base}/notes", data={"note": " "}, headers=op), 400
        )
        assert c.post(f"{base}/close", headers=op).status_code == 200
        r = c.post(f"{base}/notes", data={"note": "звонили заявителю"}, headers=op)
        assert r.status_code == 200, r.text
        assert r.json()["status_notes"] == ""  # the appeal as it stands
        assert r.json()["citypulse_status"] == "closed"
        events = c.get(base, headers=op).json()["events"]
        assert _error(c.post("/api/v1/appeals/999999/notes", data={"note": "x"}, headers=op), 404)
    assert (events[-1]["status"], events[-1]["note"]) == ("closed", "звонили заявителю")
    notes = _rows(
        live_api.db_url,
        "SELECT payload->>'status_notes' FROM outbox WHERE appeal_id = %s ORDER BY id",
        appeal_id,
    )
    assert notes[-1] == ("звонили заявителю",)


def test_duplicates_join_the_first_appeals_group(live_api: LiveApi) -> None:
    first, second, third = sensor_appeals(
        live_api.db_url,
        (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya"),
        (IncidentType.LAMP_FAULT, "tl-kirova-teatralnaya"),
        (IncidentType.SIGNAL_DARK, "tl-kirova-teatralnaya"),
    )
    op = {"X-Api-Key": live_api.operator_key}
    with live_api.client() as c:
        url = f"/api/v1/appeals/{second}/duplicates"
        assert "itself" in _error(c.post(url, data={"duplicate_of": str(second)}, headers=op), 400)
        assert "duplicate_of" in _error(c.post(url, data={"duplicate_of": "abc"}, headers=op), 400)
        assert _error(c.post(url, data={"duplicate_of": "999999"}, headers=op), 404)
        r = c.post(url, data={"duplicate_of": str(first), "note": "тот же светофор"}, headers=op)
        assert r.status_code == 200, r.text
        assert r.json()["group_id"] == first
        # A duplicate of a duplicate joins the first appeal's group.
        r = c.post(f"/api/v1/appeals/{third}/duplicates", json={"duplicate_of": second}, headers=op)
        assert r.json()["group_id"] == first
        # The group's first cannot become a duplicate of its own member.
        assert _error(
            c.post(f"/api/v1/appeals/{first}/duplicates", json={"duplicate_of": third}, headers=op),
            409,
        )
        first_events = c.get(f"/api/v1/appeals/{first}", headers=op).json()
    assert first_events["events"][-1]["note"] == f"Обращение №{second} — его дубликат"
    assert {(link["appeal_id"], link["reason"]) for link in first_events["links"]} >= {
        (second, "duplicate")
    }
    links = _rows(
        live_api.db_url,
        "SELECT appeal_id, linked_id FROM appeal_links WHERE reason = 'duplicate' ORDER BY 1",
    )
    assert links == [(second, first), (third, second)]


def test_the_actions_are_in_the_openapi_document(live_api: LiveApi) -> None:
    with live_api.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    for action in ("transfer", "notes", "duplicates"):
        assert f"/api/v1/appeals/{{id}}/{action}" in paths
