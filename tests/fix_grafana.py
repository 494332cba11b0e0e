"""A database holding a simulated week of a small city, shared by the dashboards' tests.

Filled once per session straight through ingest's decoder and sink (no broker), with
incidents, appeals and ingest counters, then copied per test module from a template.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from citypulse.simulator import generated_city
from grafana._seed import SeedReport, seed_simulation
from tests.fix_db import PgServer


@dataclass(frozen=True)
class SimulatedWeek:
    url: str
    start: datetime
    end: datetime
    report: SeedReport


@pytest.fixture(scope="session")
def simulated_week(pg_server: PgServer, plain_template: str) -> Iterator[SimulatedWeek]:
    """Two intersections in two districts, seven simulated days ending about now."""
    name = pg_server.create_database(template=plain_template)
    url = pg_server.url(name)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=7)
    city = generated_city(2, seed=3, block=1)
    report = seed_simulation(url, city, start=start, end=end, seed=5, faults_per_day=8.0)
    yield SimulatedWeek(url, start, end, report)
    pg_server.drop_database(name)
