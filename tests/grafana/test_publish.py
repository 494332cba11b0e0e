"""The publisher against a local server that checks requests as Grafana's API does."""

from __future__ import annotations

import time

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


def _publish(
    fake: FakeGrafana,
    token: str = "test-token",
    attempts: int = 4,
    url: str | None = None,
    give_up_after: float = 60.0,
) -> PublishReport:
    return publish(
        url=url or fake.url,
        token=Secret(token),
        dashboards=build_dashboards(),
        datasource=SPEC,
        base_delay=0.01,
        max_delay=0.05,
        attempts=attempts,
        give_up_after=give_up_after,
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
    assert len(fake_grafana.dashboards) == len(build_dashboards())
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
    assert len(saves) == 2 * len(build_dashboards())  # published twice
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
    assert len(fake_grafana.dashboards) == len(build_dashboards())


def test_gives_up_after_the_attempts(fake_grafana: FakeGrafana) -> None:
    fake_grafana.fail_next = 100
    with pytest.raises(PublishError) as caught:
        _publish(fake_grafana, attempts=3)
    assert caught.value.status == 503
    assert len(fake_grafana.requests) == 3


@pytest.mark.parametrize("status", [408, 429, 500, 502, 504])
def test_timeouts_throttling_and_server_errors_are_retried(
    fake_grafana: FakeGrafana, status: int
) -> None:
    fake_grafana.fail_status = status
    fake_grafana.fail_next = 2
    report = _publish(fake_grafana)
    assert report.folder == "created"
    assert len(fake_grafana.dashboards) == len(build_dashboards())


@pytest.mark.parametrize("status", [400, 403, 409, 422])
def test_other_client_errors_are_permanent(fake_grafana: FakeGrafana, status: int) -> None:
    fake_grafana.fail_status = status
    fake_grafana.fail_next = 1
    with pytest.raises(PublishError) as caught:
        _publish(fake_grafana)
    assert caught.value.status == status
    assert caught.value.path == "/api/folders/citypulse"
    assert "failing on purpose" in str(caught.value)
    assert len(fake_grafana.requests) == 1


def test_retry_after_is_honoured(fake_grafana: FakeGrafana) -> None:
    fake_grafana.fail_status = 429
    fake_grafana.fail_headers = {"Retry-After": "1"}
    fake_grafana.fail_next = 1
    started = time.monotonic()
    report = _publish(fake_grafana)  # the backoff alone would wait 0.05 s at most
    assert time.monotonic() - started >= 1.0
    assert report.folder == "created"


def test_a_retry_after_past_the_deadline_ends_at_once(fake_grafana: FakeGrafana) -> None:
    fake_grafana.fail_status = 503
    fake_grafana.fail_headers = {"Retry-After": "3600"}
    fake_grafana.fail_next = 1
    started = time.monotonic()
    with pytest.raises(PublishError) as caught:
        _publish(fake_grafana, give_up_after=5.0)
    assert time.monotonic() - started < 5.0
    assert caught.value.status == 503
    assert len(fake_grafana.requests) == 1


def test_a_redirect_is_not_followed(fake_grafana: FakeGrafana) -> None:
    fake_grafana.fail_status = 302
    fake_grafana.fail_headers = {"Location": "https://elsewhere.example/login"}
    fake_grafana.fail_next = 1
    with pytest.raises(PublishError) as caught:
        _publish(fake_grafana)
    assert caught.value.status == 302
    assert "https://elsewhere.example/login" in str(caught.value)
    assert len(fake_grafana.requests) == 1


@pytest.mark.parametrize("suffix", ["/grafana", "/grafana/"])
def test_grafana_under_a_sub_path(fake_grafana: FakeGrafana, suffix: str) -> None:
    fake_grafana.prefix = "/grafana"
    report = _publish(fake_grafana, url=fake_grafana.url + suffix)
    assert report.folder == "created"
    assert len(fake_grafana.dashboards) == len(build_dashboards())
    assert {path for _, path, _ in fake_grafana.requests} >= {
        "/grafana/api/folders/citypulse",
        "/grafana/api/datasources/uid/citypulse-pg",
        "/grafana/api/dashboards/db",
    }


@pytest.mark.parametrize(
    "url", ["http://admin:hunter2@127.0.0.1:3000", "http://127.0.0.1:3000/?verify=false"]
)
def test_a_url_with_a_login_or_a_query_is_refused(url: str) -> None:
    with pytest.raises(PublishError) as caught:
        publish(url=url, token=Secret("t"), dashboards={}, datasource=None)
    assert caught.value.status is None
    assert "must not" in str(caught.value)
    assert "hunter2" not in str(caught.value)


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
