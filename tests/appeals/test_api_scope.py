"""Agency scoping: an operator limited to an agency reads and acts only on its appeals,
and citizens' contact details are shown only to the appeal's own agency (or to keys not
limited to one)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx

from citypulse import IncidentType
from tests.appeals._db import sensor_appeals
from tests.appeals.test_api import V2, _error
from tests.fix_api import LiveApi

PARKING = "МКУ «Городские парковки»"
ROADS = "МКУ «Управление дорожного хозяйства»"
# pk-leninsky-1 and tl-kirova-teatralnaya are near these points.
CONTACT = {"email": "petrova@example.ru", "first_name": "Анна", "last_name": "Петрова",
           "phone": "+7 900 111-22-33"}  # fmt: skip


def _citizen(c: httpx.Client, api: LiveApi, service_code: str) -> str:
    r = c.post(
        f"{V2}/requests.json",
        data={
            "api_key": api.reporter_key,
            "service_code": service_code,
            "lat": "54.5070",
            "long": "36.2482",
            "description": "нужна помощь",
            **CONTACT,
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()[0]["service_request_id"])


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {x["service_request_id"]: x for x in items}


def test_an_agency_operator_reads_and_acts_only_on_its_agency(live_api: LiveApi) -> None:
    roads, parking = sensor_appeals(
        live_api.db_url,
        (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya"),
        (IncidentType.PARKING_FULL, "pk-leninsky-1"),
    )
    op = {"X-Api-Key": live_api.agency_operator_key}
    with live_api.client() as c:
        # Another agency's appeal is answered as if it did not exist, reading and acting.
        assert _error(c.get(f"/api/v1/appeals/{roads}", headers=op), 404) == f"no appeal {roads}"
        assert _error(c.get("/api/v1/appeals/999999", headers=op), 404) == "no appeal 999999"
        for action in ("accept", "reject", "close"):
            r = c.post(f"/api/v1/appeals/{roads}/{action}", json={"note": "x"}, headers=op)
            assert _error(r, 404) == f"no appeal {roads}"
        # Its own: read, act.
        mine = c.get(f"/api/v1/appeals/{parking}", headers=op)
        assert mine.status_code == 200, mine.text
        assert mine.json()["agency"] == PARKING
        r = c.post(f"/api/v1/appeals/{parking}/accept", json={"note": "взяли"}, headers=op)
        assert r.status_code == 200, r.text
        # An operator without an agency and an admin read both.
        for key in (live_api.operator_key, live_api.admin_key):
            assert c.get(f"/api/v1/appeals/{roads}", headers={"X-Api-Key": key}).status_code == 200
        # Nothing changed on the other agency's appeal.
        detail = c.get(f"/api/v1/appeals/{roads}", headers={"X-Api-Key": live_api.operator_key})
        assert [e["status"] for e in detail.json()["events"]] == ["new"]


def test_contact_details_only_for_the_appeals_own_agency(live_api: LiveApi) -> None:
    with live_api.client() as c:
        roads = _citizen(c, live_api, "traffic-signal")
        parking = _citizen(c, live_api, "parking")

        def listed(key: str | None, fmt: str = "json") -> httpx.Response:
            headers = {"X-Api-Key": key} if key else {}
            r = c.get(f"{V2}/requests.{fmt}", headers=headers)
            assert r.status_code == 200, r.text
            return r

        anonymous = _by_id(listed(None).json())
        assert anonymous[roads]["agency"] == ROADS
        assert anonymous[parking]["agency"] == PARKING
        assert all("contact" not in x for x in anonymous.values())
        assert "petrova@example.ru" not in listed(None).text
        assert "petrova@example.ru" not in listed(live_api.reporter_key).text
        # The parking agency's operator sees its citizen's contact, not the other's.
        seen = _by_id(listed(live_api.agency_operator_key).json())
        assert seen[parking]["contact"] == CONTACT
        assert "contact" not in seen[roads]
        one = c.get(
            f"{V2}/requests/{roads}.json", headers={"X-Api-Key": live_api.agency_operator_key}
        )
        assert "petrova@example.ru" not in one.text
        one = c.get(
            f"{V2}/requests/{parking}.json", params={"api_key": live_api.agency_operator_key}
        )
        assert one.json()[0]["contact"] == CONTACT
        xml = ET.fromstring(listed(live_api.agency_operator_key, "xml").content)
        by_id = {r.findtext("service_request_id"): r for r in xml.findall("request")}
        assert by_id[parking].findtext("contact/email") == CONTACT["email"]
        assert by_id[roads].find("contact") is None
        # Keys not limited to an agency see both.
        for key in (live_api.operator_key, live_api.admin_key):
            both = _by_id(listed(key).json())
            assert both[roads]["contact"] == CONTACT
            assert both[parking]["contact"] == CONTACT
        # The operators' view of an appeal carries it too, for its own agency.
        detail = c.get(
            f"/api/v1/appeals/{parking}", headers={"X-Api-Key": live_api.agency_operator_key}
        )
        assert detail.json()["contact"] == CONTACT
        assert _error(
            c.get(f"/api/v1/appeals/{roads}", headers={"X-Api-Key": live_api.agency_operator_key}),
            404,
        )
        # A key that is given must be valid.
        assert "not valid" in _error(
            c.get(f"{V2}/requests.json", headers={"X-Api-Key": "guess"}), 401
        )
