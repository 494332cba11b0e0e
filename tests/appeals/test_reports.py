"""Citizens' reports routed like sensor appeals: agency, district, deadline, SLA figures,
agency scoping, reports by address, unknown services — over real HTTP."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

import httpx

from appeals import add_key
from citypulse.db import connect
from tests.fix_api import LiveApi

V2 = "/open311/v2"
CITY = "Управление городского хозяйства г. Калуги"
GZHI = "Государственная жилищная инспекция Калужской области"
# North-east Kaluga, inside the Oktyabrsky district's boundary and over 2 km from every
# device of the demo city (so the nearest-device fallback finds nothing).
FAR = {"lat": "54.5350", "long": "36.3100"}


def _post(api: LiveApi, client: httpx.Client, **fields: str) -> str:
    r = client.post(f"{V2}/requests.json", data={"api_key": api.reporter_key, **fields})
    assert r.status_code == 201, r.text
    return str(r.json()[0]["service_request_id"])


def _get(client: httpx.Client, rid: str) -> dict[str, Any]:
    got = client.get(f"{V2}/requests/{rid}.json").json()
    assert isinstance(got, list)
    assert isinstance(got[0], dict)
    return got[0]


def test_report_is_routed_dated_and_counted_like_a_sensor_appeal(live_api: LiveApi) -> None:
    with live_api.client() as c:
        rid = _post(live_api, c, service_code="road-damage", description="Яма", **FAR)
        req = _get(c, rid)
        assert req["agency_responsible"] == CITY
        assert req["sector"] == "Дороги"
        assert req["district"] == "Октябрьский округ"  # from the boundary: no device is near
        assert req["priority"] == 2
        assert req["needs_location"] is False
        requested = datetime.fromisoformat(req["requested_datetime"])
        assert req["expected_datetime"] is not None
        expected = datetime.fromisoformat(req["expected_datetime"])
        assert expected - requested == timedelta(days=5)
        listed = c.get(
            f"{V2}/requests.json", params={"agency": CITY, "overdue": "false", "source": "citizen"}
        ).json()
        assert [r["service_request_id"] for r in listed] == [rid]
    with connect(live_api.db_url) as conn:
        sla = conn.execute(
            "SELECT agency, open, overdue, expected_at IS NOT NULL FROM appeal_sla WHERE id = %s",
            (int(rid),),
        ).fetchone()
        assert sla == (CITY, True, False, True)
        figures = conn.execute(
            "SELECT appeals, open, overdue FROM agency_performance WHERE agency = %s", (CITY,)
        ).fetchone()
        assert figures == (1, 1, 0)
        # The deadline passes: the report is overdue like any appeal.
        conn.execute(
            "UPDATE appeals SET expected_at = now() - interval '1 minute' WHERE id = %s",
            (int(rid),),
        )
        conn.commit()
        figures = conn.execute(
            "SELECT appeals, open, overdue FROM agency_performance WHERE agency = %s", (CITY,)
        ).fetchone()
        assert figures == (1, 1, 1)
    with live_api.client() as c:
        overdue = c.get(f"{V2}/requests.json", params={"agency": CITY, "overdue": "true"}).json()
        assert [r["service_request_id"] for r in overdue] == [rid]


def test_district_comes_from_the_boundary_before_the_nearest_device(live_api: LiveApi) -> None:
    # Just south of the Leninsky/Moskovsky boundary; the three nearest devices
    # (pk-moskovsky-2 about 190 m north, then two cameras) are in the Moskovsky district.
    with live_api.client() as c:
        rid = _post(live_api, c, service_code="street-lighting", lat="54.5123", long="36.2500")
        req = _get(c, rid)
        assert req["district"] == "Ленинский округ"
        assert req["agency_responsible"] == CITY
        assert req["sector"] == "Энергетика"


def test_an_agency_operator_acts_on_citizens_reports_to_its_agency(live_api: LiveApi) -> None:
    with connect(live_api.db_url) as conn:
        gzhi_key = add_key(conn, name="gzhi-operator", role="operator", agency=GZHI)
        conn.commit()
    with live_api.client() as c:
        rid = _post(
            live_api,
            c,
            service_code="housing",
            description="Течёт крыша",
            lat="54.51",
            long="36.25",
        )
        gzhi = {"X-Api-Key": gzhi_key}
        r = c.post(f"/api/v1/appeals/{rid}/accept", data={"note": "принято"}, headers=gzhi)
        assert r.status_code == 200, r.text
        assert r.json()["agency"] == GZHI
        parking = {"X-Api-Key": live_api.agency_operator_key}
        r = c.post(f"/api/v1/appeals/{rid}/progress", headers=parking)
        assert r.status_code == 404, r.text  # another agency's appeal: as if it did not exist


def test_a_report_by_address_is_routed_and_marked_for_placing(live_api: LiveApi) -> None:
    op = {"X-Api-Key": live_api.operator_key}
    with live_api.client() as c:
        by_string = _post(
            live_api,
            c,
            service_code="housing",
            address_string="г. Калуга, ул. Ленина, 74",
            description="Нет отопления",
        )
        by_id = _post(live_api, c, service_code="waste", address_id="kaluga-fias-4021")
        placed = _post(live_api, c, service_code="waste", **FAR)
        view = c.get(f"/api/v1/appeals/{by_string}", headers=op).json()
        assert view["needs_location"] is True
        assert view["lat"] is None
        assert view["long"] is None
        assert view["address"] == "г. Калуга, ул. Ленина, 74"
        assert view["agency_responsible"] == GZHI
        assert view["district"] == ""
        requested = datetime.fromisoformat(view["requested_datetime"])
        expected = datetime.fromisoformat(view["expected_datetime"])
        assert expected - requested == timedelta(days=3)
        req = _get(c, by_id)
        assert req["needs_location"] is True
        assert req["address_id"] == "kaluga-fias-4021"
        assert req["sector"] == "ТКО"
        assert req["agency_responsible"] == "ГП «Калужский региональный экологический оператор»"
        assert "kaluga-fias-4021" in req["title"]
        assert _get(c, placed)["needs_location"] is False
        xml = ET.fromstring(c.get(f"{V2}/requests/{by_id}.xml").content)
        assert xml.findtext("request/needs_location") == "true"
        assert xml.findtext("request/address_id") == "kaluga-fias-4021"
        to_place = c.get(f"{V2}/requests.json", params={"needs_location": "true"}).json()
        assert sorted(r["service_request_id"] for r in to_place) == sorted([by_string, by_id])
        spec = c.get("/openapi.json").json()["paths"][f"{V2}/requests.{{fmt}}"]["get"]
        assert "needs_location" in {p["name"] for p in spec["parameters"]}
        r = c.get(f"{V2}/requests.json", params={"needs_location": "maybe"})
        assert r.status_code == 400
        assert "needs_location" in r.json()[0]["description"]
    with connect(live_api.db_url) as conn:
        # Placing it on the map clears the mark.
        conn.execute("UPDATE appeals SET lat = 54.51, lon = 36.25 WHERE id = %s", (int(by_id),))
        conn.commit()
    with live_api.client() as c:
        assert _get(c, by_id)["needs_location"] is False


def test_an_unknown_service_code_gets_a_400_naming_it(live_api: LiveApi) -> None:
    key = {"X-Api-Key": live_api.reporter_key}
    with live_api.client() as c:
        r = c.post(f"{V2}/requests.json", data={"service_code": "pothole-xyz", **FAR}, headers=key)
        assert r.status_code == 400
        assert r.json()[0]["code"] == 400
        assert "pothole-xyz" in r.json()[0]["description"]
        r = c.post(
            f"{V2}/requests.xml",
            json={"service_code": "pothole-xyz", "address_string": "ул. Ленина"},
            headers=key,
        )
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("text/xml")
        error = ET.fromstring(r.content)
        assert error.findtext("error/code") == "400"
        assert "pothole-xyz" in (error.findtext("error/description") or "")
    with connect(live_api.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM appeals").fetchone() == (0,)
