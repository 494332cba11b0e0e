"""TimescaleDB's background jobs run and succeed, not just exist: the policies of a new
database all come due at once, and each needs a worker of its own."""

from __future__ import annotations

import time

import pytest

from citypulse.db import connect

# 4 raw tables x (compression, retention) + 8 rollups x (refresh, retention)
POLICY_JOBS = 24

_STATS = """
SELECT j.job_id, j.proc_name, j.hypertable_name, s.last_run_status, s.total_successes,
       s.total_failures
FROM timescaledb_information.jobs j
LEFT JOIN timescaledb_information.job_stats s USING (job_id)
WHERE j.hypertable_name IS NOT NULL
ORDER BY j.job_id
"""


@pytest.mark.timescale
def test_every_policy_runs_and_succeeds(timescale_db_url: str) -> None:
    with connect(timescale_db_url, autocommit=True) as conn:
        deadline = time.monotonic() + 120
        while True:
            stats = conn.execute(_STATS).fetchall()
            if all(s[4] for s in stats) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        errors = conn.execute(
            "SELECT job_id, err_message FROM timescaledb_information.job_errors"
        ).fetchall()
    assert len(stats) == POLICY_JOBS
    assert {s[1] for s in stats} == {
        "policy_compression",
        "policy_retention",
        "policy_refresh_continuous_aggregate",
    }
    not_run = [s for s in stats if not s[4] or s[3] != "Success" or s[5]]
    assert not_run == [], "policies without a successful run, or with failures"
    assert errors == []
