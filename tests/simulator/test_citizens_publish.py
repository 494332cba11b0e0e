"""Citizens' reports posted to the real API land as citizens' appeals; refusals are clear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg.rows import dict_row

from citypulse.cli import main
from citypulse.db import connect
from simulator import (
    ApiUnreachable,
    CitizenPoster,
    CitizenReport,
    Fault,
    FaultType,
    ReportKind,
    ReportRefused,
    citizen_reports,
    follow_faults,
    post_reports,
    preset_city,
    read_citizens_truth,
)
from tests._procs import free_port
from tests.fix_api import LiveApi

CITY = preset_city()
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday, 09:00 МСК


def _reports() -> list[CitizenReport]:
    background = citizen_reports(CITY, start=START, end=START + timedelta(hours=2), seed=4)
    fault = Fault(
        "f1", FaultType.POWER_LOSS, ("tl-kirova-pushkina",), START, START + timedelta(days=1)
    )
    followed = next(
        r for seed in range(20) for r in follow_faults(CITY, [fault], seed=seed)
    )  # some seed has a citizen report it
    return [*background, followed]


def _appeals(db_url: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    with connect(db_url) as conn:
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(
                "SELECT id, source, service_code, district, description, lat, lon "
                "FROM appeals WHERE id = ANY(%s)",
                [ids],
            )
            .fetchall()
        )
    return {r["id"]: r for r in rows}


def test_reports_land_as_citizens_appeals(live_api: LiveApi) -> None:
    reports = _reports()
    assert len(reports) > 10
    with CitizenPoster(live_api.url, api_key=live_api.reporter_key) as poster:
        result = post_reports(reports, poster)
        assert result.posted == len(reports)
        assert result.retries == 0
        # A post repeated (a retry after a lost answer) returns the same appeal.
        assert poster.post(reports[0]) == result.appeal_ids[reports[0].id]
    appeals = _appeals(live_api.db_url, list(result.appeal_ids.values()))
    assert len(appeals) == len(reports)
    for report in reports:
        appeal = appeals[result.appeal_ids[report.id]]
        assert appeal["source"] == "citizen"
        assert appeal["service_code"] == report.service_code
        assert appeal["district"] == CITY.district(report.district).name
        assert appeal["description"] == report.description
        assert abs(appeal["lat"] - report.lat) < 1e-5
    assert reports[-1].kind is ReportKind.FAULT_FOLLOW


def test_a_refused_report_says_why(live_api: LiveApi) -> None:
    report = _reports()[0]
    with (
        CitizenPoster(live_api.url, api_key="not-a-key") as poster,
        pytest.raises(ReportRefused, match=r"401.*api_key is not valid") as bad_key,
    ):
        post_reports([report], poster)
    assert bad_key.value.status == 401
    assert bad_key.value.report_id == report.id
    unknown = CitizenReport(
        "c9", START, "no-such-service", "leninsky", 54.51, 36.25, "Текст", ReportKind.BACKGROUND
    )
    with (
        CitizenPoster(live_api.url, api_key=live_api.reporter_key) as poster,
        pytest.raises(ReportRefused, match=r"400.*service_code") as refused,
    ):
        post_reports([unknown], poster)
    assert refused.value.status == 400


def _flaky(failures: int) -> Iterator[httpx.Response]:
    for _ in range(failures):
        yield httpx.Response(503, json=[{"code": 503, "description": "database busy"}])
    while True:
        yield httpx.Response(201, json=[{"service_request_id": "77", "token": "t"}])


def test_5xx_is_retried_and_an_unreachable_api_gives_up() -> None:
    answers = _flaky(2)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    report = _reports()[0]
    transport = httpx.MockTransport(handler)
    with CitizenPoster("http://api.test", api_key="k", backoff_s=0.01, transport=transport) as p:
        assert p.post(report) == 77
        assert p.retries == 2
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(seen) == 3
    assert len(keys) == 1  # every retry carries the same key: the API queues one appeal
    closed = f"http://127.0.0.1:{free_port()}"
    with (
        CitizenPoster(closed, api_key="k", give_up_s=0.3, backoff_s=0.05) as poster,
        pytest.raises(ApiUnreachable, match="gave up after"),
    ):
        poster.post(report)


def test_simulate_posts_citizens_and_writes_their_ground_truth(
    live_api: LiveApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    truth = tmp_path / "citizens.jsonl"
    args = [
        "--database-url",
        live_api.db_url,
        "simulate",
        "--start",
        "2026-11-23T09:00:00+03:00",
        "--duration",
        "2h",
        "--speed",
        "max",
        "--no-register",
        "--quiet",
        "--output",
        str(tmp_path / "messages.jsonl"),
        "--random-faults",
        "40",
        "--surges",
        "500",  # a week's rate: about 6 in these two hours
        "--surge-duration",
        "1h",
        "--citizens",
        live_api.url,
        "--citizens-truth",
        str(truth),
        "--ground-truth",
        str(tmp_path / "faults.jsonl"),
    ]
    monkeypatch.delenv("CITYPULSE_CITIZENS_API_KEY", raising=False)
    assert main(args) == 2
    assert "CITYPULSE_CITIZENS_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("CITYPULSE_CITIZENS_API_KEY", live_api.reporter_key)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert live_api.reporter_key not in err
    lines = read_citizens_truth(truth)
    surges = [line for line in lines if line["record"] == "surge"]
    reports = [line for line in lines if line["record"] == "report"]
    assert surges
    assert reports
    assert all("appeal_id" in r for r in reports)
    appeals = _appeals(live_api.db_url, [r["appeal_id"] for r in reports])
    assert len(appeals) == len(reports)
    assert {a["service_code"] for a in appeals.values()} == {r["service_code"] for r in reports}
    assert f"posted {len(reports)} citizens' reports" in err
    assert json.loads((tmp_path / "faults.jsonl").read_text().splitlines()[0])["id"]
