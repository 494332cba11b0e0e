"""Webhook signatures (what receivers run), Retry-After, backoff, connector settings."""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from citypulse import ConfigError, Secret, Settings
from connectors import (
    Backoff,
    Open311Connector,
    OutboxEntry,
    WebhookConnector,
    WebhookSignatureError,
    build_connectors,
    parse_retry_after,
    sign_webhook,
    verify_webhook,
)

SECRET = "whsec-test"
NOW = 1_764_000_000
BODY = b'{"event":"created","idempotency_key":"citypulse-appeal-7-created"}'


def headers(ts: int = NOW, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Citypulse-Timestamp": str(ts),
        "X-Citypulse-Signature": sign_webhook(secret, ts, body),
    }


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_webhook(SECRET, NOW, BODY) == f"sha256={expected}"
    verify_webhook(SECRET, headers(), BODY, now=NOW)
    verify_webhook(Secret(SECRET), headers(), BODY, now=NOW + 299)
    lowercase = {k.lower(): v for k, v in headers().items()}
    verify_webhook(SECRET.encode(), list(lowercase.items()), BODY, now=NOW)


@pytest.mark.parametrize(
    ("hdrs", "body", "secret", "now", "reason"),
    [
        (headers(), BODY.replace(b"7", b"8"), SECRET, NOW, "signature mismatch"),
        (headers(), BODY + b" ", SECRET, NOW, "signature mismatch"),
        (headers(), BODY, "wrong-secret", NOW, "signature mismatch"),
        (headers(ts=NOW - 301), BODY, SECRET, NOW, "outside"),
        (headers(ts=NOW + 301), BODY, SECRET, NOW, "outside"),
        # a captured request replayed with a fresh timestamp but the old signature
        ({**headers(), "X-Citypulse-Timestamp": str(NOW + 60)}, BODY, SECRET, NOW, "mismatch"),
        ({"X-Citypulse-Timestamp": str(NOW)}, BODY, SECRET, NOW, "missing"),
        ({**headers(), "X-Citypulse-Timestamp": "soon"}, BODY, SECRET, NOW, "not an integer"),
        (headers(), BODY, "", NOW, "no secret"),
    ],
)
def test_verification_rejects(
    hdrs: dict[str, str], body: bytes, secret: str, now: int, reason: str
) -> None:
    with pytest.raises(WebhookSignatureError) as info:
        verify_webhook(secret, hdrs, body, now=now)
    assert reason in info.value.reason


DOCS = Path(__file__).parents[2] / "docs" / "webhooks.md"


def _doc_block(language: str, marker: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(), re.S)
    return str(next(b for b in blocks if marker in b))


def test_shell_recipe_in_docs_verifies(tmp_path: Path) -> None:
    script = _doc_block("sh", "openssl dgst")
    script = script.replace("ts=1764061260", f"ts={NOW}")
    (tmp_path / "body.json").write_bytes(BODY)
    env = {"PATH": os.environ["PATH"], "CITYPULSE_WEBHOOK_SECRET": SECRET}

    def run(signature: str) -> str:
        return subprocess.run(
            ["bash", "-c", f"signature_header='{signature}'\n{script}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            check=True,
            text=True,
        ).stdout.strip()

    assert run(sign_webhook(SECRET, NOW, BODY)) == "valid"
    assert run(sign_webhook(SECRET, NOW, BODY + b"x")) == "INVALID"


def test_plain_python_recipe_in_docs_verifies() -> None:
    namespace: dict[str, Any] = {}
    exec(_doc_block("python", "def verify"), namespace)
    verify = namespace["verify"]
    now = int(time.time())
    good = headers(ts=now)
    assert verify(SECRET.encode(), good, BODY) is True
    assert verify(SECRET.encode(), good, BODY + b" ") is False
    assert verify(b"other", good, BODY) is False
    assert verify(SECRET.encode(), headers(ts=now - 400), BODY) is False
    assert verify(SECRET.encode(), {}, BODY) is False


def test_webhook_request_carries_the_documented_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    entry = OutboxEntry(
        id=3,
        appeal_id=7,
        connector="webhook",
        event="created",
        idempotency_key="citypulse-appeal-7-created",
        payload={"service_code": "traffic_light", "title": "Светофор"},
        attempt=1,
        created_at=datetime.now(UTC),
        deliver_by=datetime.now(UTC) + timedelta(hours=1),
    )
    hook = WebhookConnector(url="http://127.0.0.1:9/h", secret=Secret(SECRET), clock=lambda: NOW)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        assert hook.deliver(client, entry).status == 204
    request = seen[0]
    assert request.headers["X-Citypulse-Event"] == "created"
    assert request.headers["Idempotency-Key"] == "citypulse-appeal-7-created"
    assert request.headers["Content-Type"] == "application/json"
    verify_webhook(SECRET, request.headers.items(), request.content, now=NOW)
    assert "Светофор".encode() in request.content


def test_retry_after_seconds_and_http_date() -> None:
    now = 1_764_000_000.0
    assert parse_retry_after("120", lambda: now) == 120.0
    later = datetime.fromtimestamp(now + 90, UTC)
    assert parse_retry_after(format_datetime(later, usegmt=True), lambda: now) == 90.0
    earlier = datetime.fromtimestamp(now - 90, UTC)
    assert parse_retry_after(format_datetime(earlier, usegmt=True), lambda: now) == 0.0
    assert parse_retry_after("whenever", lambda: now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") is None


def test_backoff_full_jitter_within_capped_exponential() -> None:
    backoff = Backoff(base=1.0, cap=30.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (4, 8.0), (6, 30.0), (500, 30.0)]:
        delays = [backoff.delay(attempt, None, rng) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling  # full jitter spreads over the whole range
        assert min(delays) < 0.2 * ceiling
    assert all(backoff.delay(1, 5.0, rng) >= 5.0 for _ in range(50))
    assert backoff.delay(1, 1e9, rng) == 3600.0


def test_connectors_from_settings() -> None:
    settings = Settings.from_env(
        {
            "CITYPULSE_CONNECTORS": "webhook, Open311",
            "CITYPULSE_WEBHOOK_URL": "https://cur.example/hooks",
            "CITYPULSE_WEBHOOK_SECRET": "hook-secret-value",
            "CITYPULSE_OPEN311_URL": "https://cur.example/open311/v2",
            "CITYPULSE_OPEN311_API_KEY": "open311-key-value",
            "CITYPULSE_OPEN311_JURISDICTION": "kaluga",
            "CITYPULSE_DELIVERY_TIMEOUT": "7",
        }
    )
    assert settings.connectors == ("webhook", "open311")
    assert settings.delivery_timeout_s == 7
    hook, o311 = build_connectors(settings)
    assert isinstance(hook, WebhookConnector)
    assert isinstance(o311, Open311Connector)
    assert o311.jurisdiction == "kaluga"
    for text in (repr(settings), repr(hook), repr(o311)):
        assert "hook-secret-value" not in text
        assert "open311-key-value" not in text


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"CITYPULSE_CONNECTORS": "fax"}, "CITYPULSE_CONNECTORS"),
        ({"CITYPULSE_CONNECTORS": "webhook"}, "CITYPULSE_WEBHOOK_URL"),
        (
            {"CITYPULSE_CONNECTORS": "webhook", "CITYPULSE_WEBHOOK_URL": "http://h/x"},
            "CITYPULSE_WEBHOOK_SECRET",
        ),
        (
            {
                "CITYPULSE_CONNECTORS": "webhook",
                "CITYPULSE_WEBHOOK_URL": "ftp://h/x",
                "CITYPULSE_WEBHOOK_SECRET": "s",
            },
            "CITYPULSE_WEBHOOK_URL",
        ),
        ({"CITYPULSE_CONNECTORS": "open311"}, "CITYPULSE_OPEN311_URL"),
    ],
)
def test_connector_settings_are_checked(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_connectors(Settings.from_env(env))
    assert info.value.setting == setting
