"""The API as a published Open311 client sees it: ``georeport`` 0.3.1 from PyPI (which
nobody here wrote) reads services and requests, in JSON and in XML, over real HTTP from
the uvicorn-served app.  The library has no call to post a request, so reports are
posted as its users would with any HTTP client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import requests
from georeport import GeoReport

from tests.appeals.test_api import NEAR, V2
from tests.fix_api import LiveApi


def _post(c: httpx.Client, api: LiveApi, service_code: str, description: str) -> str:
    r = c.post(
        f"{V2}/requests.json",
        data={
            "api_key": api.reporter_key,
            "service_code": service_code,
            "description": description,
            **NEAR,
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()[0]["service_request_id"])


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_reads_services_and_requests(live_api: LiveApi, output_format: str) -> None:
    with live_api.client() as c:
        first = _post(c, live_api, "traffic-signal", "Погас")
        second = _post(c, live_api, "waste", "Мусор")
    client = GeoReport(f"{live_api.url}{V2}/", output_format=output_format)

    services = client.get_service_list()
    codes = {s["service_code"] for s in services}
    assert {"traffic-signal", "waste", "air-quality"} <= codes
    signal = next(s for s in services if s["service_code"] == "traffic-signal")
    assert signal["service_name"] == "Неисправность светофора"
    assert signal["group"] == "Дороги"

    definition = client.get_service_definition("waste")
    assert definition["service_code"] == "waste"

    queue = client.get_service_requests()
    assert {r["service_request_id"] for r in queue} == {first, second}
    assert {r["status"] for r in queue} == {"open"}

    now = datetime.now(UTC).replace(microsecond=0)
    window = client.get_service_requests(
        service_code="traffic-signal",
        start_date=(now - timedelta(days=1)).isoformat(),
        end_date=(now + timedelta(days=1)).isoformat(),
        status="open",
    )
    # xmltodict gives a single <request> as a mapping, several as a list.
    found = window if isinstance(window, list) else [window]
    assert [r["service_request_id"] for r in found] == [first]
    assert found[0]["description"] == "Погас"

    one = client.get_service_request(second)
    assert one["service_request_id"] == second
    assert one["service_code"] == "waste"

    # The library raises on an error status, whatever the format.
    with pytest.raises(requests.HTTPError, match="404"):
        client.get_service_request("424242")
