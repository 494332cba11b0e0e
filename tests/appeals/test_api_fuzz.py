"""Schemathesis against the live server's /openapi.json: no input gets a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Err

from citypulse import IncidentType
from tests.appeals.test_api import _sensor_appeals
from tests.fix_api import LiveApi

EXAMPLES = 20


def _send(client: httpx.Client, case: schemathesis.Case[Any], key: str) -> httpx.Response:
    """Send a generated case with httpx (schemathesis' own requests transport does not work
    beside the urllib3-future that another dependency installs)."""
    kw = case.as_transport_kwargs(headers={"X-Api-Key": key})
    data = kw.get("data")
    body: dict[str, object] = {}
    if "json" in kw:
        body["json"] = kw["json"]
    elif isinstance(data, bytes | str):
        body["content"] = data
    elif data is not None:
        body["data"] = data
    return client.request(
        kw["method"],
        kw["url"],
        headers={k: str(v) for k, v in (kw.get("headers") or {}).items()},
        params=kw.get("params"),
        **body,  # type: ignore[arg-type]
    )  # per operation and mode: bounded, so the test takes seconds


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(live_api: LiveApi) -> None:
    _sensor_appeals(
        live_api,
        (IncidentType.STUCK_PHASE, "tl-kirova-teatralnaya"),
        (IncidentType.AIR_QUALITY_EXCEEDANCE, "eco-leninsky-1"),
    )
    schema = schemathesis.openapi.from_url(f"{live_api.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert not isinstance(result, Err), result.err()  # the document itself is valid
        operations.append(result.ok())
    assert len(operations) >= 8
    failures: list[str] = []
    client = httpx.Client(timeout=10.0)
    calls = 0
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            keys = st.sampled_from(
                [live_api.reporter_key, live_api.operator_key, live_api.admin_key, "wrong"]
            )

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode), key=keys)
            def run(case: schemathesis.Case[Any], key: str) -> None:
                nonlocal calls
                calls += 1
                response = _send(client, case, key)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:200]}"
                    )

            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid (an operation without parameters or body).
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    client.close()
    print(f"schemathesis: {calls} calls over {len(operations)} operations")
    assert calls >= len(operations) * 10
    assert failures == []
