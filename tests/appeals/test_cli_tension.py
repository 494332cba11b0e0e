"""``citypulse tension``: one update with --once, wrong values refused with exit code 2."""

from __future__ import annotations

import threading
import time

import pytest

from appeals.analysis import TensionKind
from citypulse import cli
from citypulse.db import connect
from tests.appeals.analysis._history import LAT, LON, points

_INSERT = """
INSERT INTO appeals (source, sector, service_code, title, lat, lon, district, requested_at)
VALUES ('citizen', 'Дороги', 'road-damage', 'Яма', %s, %s, 'Ленинский округ',
        now() - %s * interval '1 hour')
"""


@pytest.fixture(autouse=True)
def _declared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command as pyproject.toml declares it, whatever the installed metadata says
    (and whatever other commands it lists)."""
    only = cli.Command(("tension",), "appeals._cli_tension")
    monkeypatch.setattr(cli, "commands", lambda: (only,))


def test_once_updates_the_points_and_reports_the_lag(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(db_url) as conn:
        for i in range(6):
            conn.execute(_INSERT, (LAT + i * 0.0001, LON, 6 - i))
        conn.commit()
    assert cli.main(["--database-url", db_url, "tension", "--once"]) == 0
    out = capsys.readouterr().out
    assert "1 opened, 0 updated, 0 ended; lag " in out
    with connect(db_url) as conn:
        (cluster,) = points(conn, TensionKind.CLUSTER)
        assert len(cluster.appeal_ids) == 6
        row = conn.execute("SELECT appeal_id FROM tension_state").fetchone()
    assert row is not None
    assert cli.main(["--database-url", db_url, "tension", "--once"]) == 0
    assert "0 opened, 0 updated, 0 ended" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0s", "-5m", "often"])
def test_a_wrong_interval_exits_2_with_one_line(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["tension", "--interval", value])
    assert info.value.code == 2
    *usage, line = capsys.readouterr().err.splitlines()
    assert usage[0].startswith("usage: citypulse tension")
    assert line.startswith("citypulse tension: error: argument --interval: ")


def test_the_worker_wakes_on_a_notification_and_stops_when_asked(db_url: str) -> None:
    from datetime import timedelta

    from appeals import load_routing
    from appeals._cli_tension import _Worker

    worker = _Worker(db_url, load_routing(), timedelta(hours=1))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        time.sleep(1.0)  # the first round, over an empty table
        with connect(db_url) as conn:
            for i in range(6):
                conn.execute(_INSERT, (LAT + i * 0.0001, LON, 6 - i))
            conn.execute(
                "INSERT INTO appeal_events (appeal_id, status) SELECT max(id), 'new' FROM appeals"
            )
            conn.commit()
            deadline = time.monotonic() + 15.0
            while not points(conn) and time.monotonic() < deadline:
                conn.commit()
                time.sleep(0.2)
            (cluster,) = points(conn, TensionKind.CLUSTER)
        assert len(cluster.appeal_ids) == 6
    finally:
        worker.stop()
        thread.join(10.0)
    assert not thread.is_alive()
