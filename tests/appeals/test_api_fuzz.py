"""Schemathesis against the live server's /openapi.json: no input gets a 5xx."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Err

from citypulse import IncidentType
from tests.appeals._db import sensor_appeals
from tests.fix_api import LiveApi

EXAMPLES = 20
# Environments set up before citypulse dropped grafana-client still hold its urllib3-future,
# whose files replace urllib3's and break schemathesis' requests transport; pip does not
# remove a dependency nobody needs any more.
STALE_URLLIB3 = (
    "urllib3-future (from grafana-client, which citypulse no longer needs) has replaced "
    "urllib3 in this environment; repair it with: pip uninstall -y grafana-client "
    "urllib3-future && pip install --force-reinstall --no-deps urllib3==<the version pip lists>"
)


def _has(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(live_api: LiveApi) -> None:
    assert not _has("urllib3-future"), STALE_URLLIB3
    sensor_appeals(
        live_api.db_url,
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
    session = requests.Session()  # schemathesis' own transport, one connection pool
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
                # Timeout per request, so the whole test stays bounded.
                response = case.call(session=session, headers={"X-Api-Key": key}, timeout=10)
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
    session.close()
    print(f"schemathesis: {calls} calls over {len(operations)} operations")
    assert calls >= len(operations) * 10
    assert failures == []
