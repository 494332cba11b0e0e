"""The publisher against a local server that checks requests as Grafana's API does."""

from __future__ import annotations

import pytest

from citypulse._settings import Secret
from citypulse.cli import main
from grafana import PublishError, build_dashboards
from grafana._publish import DataSourceSpec, PublishReport, publish
from tests.fix_grafana import FakeGrafana

SPEC = DataSourceSpec(
    host="db:5432",
    database="citypulse",
    user="grafana",
    password=Secret("s3cret"),
    timescaledb=False,
)


def _publish(fake: FakeGrafana, token: str = "test-token", attempts: int = 4) -> PublishReport:
    return publish(
        url=fake.url,
        token=Secret(token),
        dashboards=build_dashboards(),
        datasource=SPEC,
        base_delay=0.01,
        max_delay=0.05,
        attempts=attempts,
    )


def test_publish_creates_then_updates_idempotently(fake_grafana: FakeGrafana) -> None:
    first = _publish(fake_grafana)
    assert first.folder == "created"
    assert first.datasource == "created"
    assert {uid: v for uid, v, _ in first.dashboards} == dict.fromkeys(
        (m["uid"] for m in build_dashboards().values()), 1
    )
    second = _publish(fake_grafana)
    assert second.folder == "updated"
    assert second.datasource == "updated"
    assert {v for _, v, _ in second.dashboards} == {2}

    assert list(fake_grafana.folders) == ["citypulse"]
    assert len(fake_grafana.dashboards) == 7
    assert {d["folderUid"] for d in fake_grafana.dashboards.values()} == {"citypulse"}
    stored = fake_grafana.dashboards["citypulse-traffic"]["model"]
    assert stored["panels"] == build_dashboards()["traffic"]["panels"]
    (ds,) = fake_grafana.datasources.values()
    assert ds["uid"] == "citypulse-pg"
    assert ds["type"] == "grafana-postgresql-datasource"
    assert ds["user"] == "grafana"
    assert ds["jsonData"]["timescaledb"] is False
    assert ds["secureJsonData"] == {"password": "s3cret"}
    saves = [doc for method, path, doc in fake_grafana.requests if path == "/api/dashboards/db"]
    assert len(saves) == 14
    assert all(doc and doc["overwrite"] is True and doc["dashboard"]["id"] is None for doc in saves)


def test_a_wrong_token_fails_at_once(fake_grafana: FakeGrafana) -> None:
    with pytest.raises(PublishError) as caught:
        _publish(fake_grafana, token="wrong")
    assert caught.value.status == 401
    assert len(fake_grafana.requests) == 1
    assert "wrong" not in str(caught.value)


def test_unavailable_grafana_is_retried(fake_grafana: FakeGrafana) -> None:
    fake_grafana.fail_next = 2
    report = _publish(fake_grafana)
    assert report.folder == "created"
    assert len(fake_grafana.dashboards) == 7


def test_gives_up_after_the_attempts(fake_grafana: FakeGrafana) -> None:
    fake_grafana.fail_next = 100
    with pytest.raises(PublishError) as caught:
        _publish(fake_grafana, attempts=3)
    assert caught.value.status == 503
    assert len(fake_grafana.requests) == 3


def test_unreachable_grafana_is_a_publish_error() -> None:
    with pytest.raises(PublishError) as caught:
        publish(
            url="http://127.0.0.1:9",
            token=Secret("t"),
            dashboards={},
            datasource=None,
            attempts=2,
            base_delay=0.01,
            timeout=2,
        )
    assert caught.value.status is None


def test_cli_publish(
    fake_grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CITYPULSE_GRAFANA_DB_USER", "grafana")
    monkeypatch.setenv("CITYPULSE_GRAFANA_DB_PASSWORD", "pw")
    monkeypatch.setenv("CITYPULSE_DATABASE_URL", "postgresql://x@dbhost:6543/city")
    argv = ["grafana", "publish", "--url", fake_grafana.url, "--token", "test-token",
            "--schema-mode", "timescale"]  # fmt: skip
    assert main(argv) == 0
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "citypulse-air: version 2" in out
    ds = fake_grafana.datasources["citypulse-pg"]
    assert ds["url"] == "dbhost:6543"
    assert ds["jsonData"]["database"] == "city"
    assert ds["jsonData"]["timescaledb"] is True
    monkeypatch.delenv("CITYPULSE_GRAFANA_DB_USER")
    assert main(argv) == 2  # configuration error: no login for the data source
