"""Publishing to a running Grafana over its HTTP API, idempotently.

The folder and the data source are looked up by uid and created or updated; dashboards
are saved with ``overwrite`` so the uid decides what is replaced.  One httpx client with
explicit timeouts carries every request.  Transport errors, timeouts, 408, 429 and 5xx are
retried with capped exponential backoff and full jitter, never sooner than the answer's
``Retry-After`` and never past a deadline; other 4xx (and redirects) are permanent and
raised as :class:`PublishError` at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from citypulse import Secret
from connectors import Backoff, parse_retry_after
from grafana._errors import PublishError
from grafana._query import DATASOURCE_TYPE, DATASOURCE_UID

log = logging.getLogger(__name__)

FOLDER_UID = "citypulse"
FOLDER_TITLE = "citypulse"
_RETRYABLE_4XX = frozenset({408, 429})
_EXCERPT = 200


@dataclass(frozen=True, slots=True)
class DataSourceSpec:
    """The PostgreSQL data source: where it is and the read-only login Grafana uses."""

    host: str  # host:port
    database: str
    user: str
    password: Secret = field(default_factory=lambda: Secret(""))
    timescaledb: bool = True
    sslmode: str = "require"
    name: str = "citypulse"

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "uid": DATASOURCE_UID,
            "type": DATASOURCE_TYPE,
            "access": "proxy",
            "url": self.host,
            "user": self.user,
            "isDefault": False,
            "jsonData": {
                "database": self.database,
                "sslmode": self.sslmode,
                "timescaledb": self.timescaledb,
                "postgresVersion": 1500,
                "timeInterval": "1m",
            },
        }
        if self.password:
            out["secureJsonData"] = {"password": self.password.value}
        return out


@dataclass(frozen=True, slots=True)
class PublishReport:
    folder: str  # created | updated
    datasource: str  # created | updated | skipped
    dashboards: tuple[tuple[str, int, str], ...]  # (uid, version, url)


def _client(url: str, token: Secret, timeout: float) -> httpx.Client:
    """The client for Grafana's API at ``url`` (a sub-path such as ``/grafana`` is kept)."""
    return httpx.Client(
        base_url=url.rstrip("/") + "/",
        headers={
            "Authorization": f"Bearer {token.value}",
            "Accept": "application/json",
            "User-Agent": "citypulse",
        },
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,  # a redirect would replay the token elsewhere or drop the body
    )


def _message(response: httpx.Response) -> str:
    """Grafana's own ``message`` when it gave one, else an excerpt of the body."""
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    text = " ".join(response.text.split())
    return text[:_EXCERPT] + "…" if len(text) > _EXCERPT else text or response.reason_phrase


@dataclass(frozen=True, slots=True)
class _Transient:
    """A failed attempt worth repeating, and how long the server asked us to wait."""

    error: PublishError
    retry_after: float | None = None


class _Api:
    """Grafana's HTTP API through one client: JSON in and out, retried as the module says."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        attempts: int,
        backoff: Backoff,
        give_up_after: float,
    ) -> None:
        self.client = client
        self.attempts = attempts
        self.backoff = backoff
        self.give_up_after = give_up_after
        self.rng = random.Random()

    def _attempt(
        self, method: str, path: str, body: Mapping[str, Any] | None
    ) -> dict[str, Any] | _Transient:
        """One request: the decoded answer, a :class:`_Transient`, or PublishError raised."""
        try:
            response = self.client.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            return _Transient(PublishError(method, path, None, f"timed out ({type(exc).__name__})"))
        except httpx.TransportError as exc:
            return _Transient(PublishError(method, path, None, f"{type(exc).__name__}: {exc}"))
        status = response.status_code
        if 200 <= status < 300:
            try:
                doc = response.json()
            except ValueError as exc:
                text = " ".join(response.text.split())[:_EXCERPT]
                raise PublishError(method, path, status, f"not a JSON answer: {text}") from exc
            if not isinstance(doc, dict):
                raise PublishError(method, path, status, f"not a JSON object: {doc!r:.100}")
            return doc
        if 300 <= status < 400:
            where = response.headers.get("Location", "?")
            raise PublishError(method, path, status, f"redirected to {where}; give that URL")
        error = PublishError(method, path, status, _message(response))
        if status in _RETRYABLE_4XX or status >= 500:
            return _Transient(error, parse_retry_after(response.headers.get("Retry-After")))
        raise error

    def request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The decoded JSON answer to ``method path``; :class:`PublishError` when it fails."""
        give_up_at = time.monotonic() + self.give_up_after
        for attempt in range(1, self.attempts + 1):
            outcome = self._attempt(method, path, body)
            if not isinstance(outcome, _Transient):
                return outcome
            if attempt == self.attempts:
                raise outcome.error
            delay = self.backoff.delay(attempt, outcome.retry_after, self.rng)
            if time.monotonic() + delay > give_up_at:
                log.warning(
                    "%s; not retrying: the next try would be past the deadline", outcome.error
                )
                raise outcome.error
            log.warning(
                "%s; retry %d/%d in %.2f s", outcome.error, attempt, self.attempts - 1, delay
            )
            time.sleep(delay)
        raise AssertionError("unreachable")

    def find(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``, or None when Grafana answers 404."""
        try:
            return self.request("GET", path)
        except PublishError as exc:
            if exc.status == 404:
                return None
            raise


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise PublishError("-", url, None, "the Grafana URL must be http:// or https://")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # Never echo the URL: it holds a password.
        raise PublishError("-", "-", None, "the Grafana URL must not hold a login; use a token")
    if parts.query or parts.fragment:
        raise PublishError("-", url, None, "the Grafana URL must not have a query or fragment")


def publish(
    *,
    url: str,
    token: Secret,
    dashboards: Mapping[str, Mapping[str, Any]],
    datasource: DataSourceSpec | None,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    timeout: float = 10.0,
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    give_up_after: float = 120.0,
) -> PublishReport:
    """Create or update the folder, the data source and every dashboard (by uid).

    Each request is tried up to ``attempts`` times and not retried past ``give_up_after``
    seconds from its first try (a longer ``Retry-After`` ends it at once).
    """
    _check_url(url)
    if not token:
        raise PublishError("-", url, None, "a service account token is needed")
    backoff = Backoff(base=base_delay, cap=max_delay, retry_after_cap=give_up_after)
    with _client(url, token, timeout) as client:
        api = _Api(client, attempts=attempts, backoff=backoff, give_up_after=give_up_after)
        folder = _publish_folder(api, folder_uid, folder_title)
        ds_state = "skipped" if datasource is None else _publish_datasource(api, datasource)
        saved = tuple(_save_dashboard(api, model, folder_uid) for model in dashboards.values())
    return PublishReport(folder, ds_state, saved)


def _publish_folder(api: _Api, uid: str, title: str) -> str:
    path = f"/api/folders/{quote(uid, safe='')}"
    if api.find(path) is None:
        api.request("POST", "/api/folders", {"title": title, "uid": uid})
        return "created"
    api.request("PUT", path, {"title": title, "overwrite": True})
    return "updated"


def _publish_datasource(api: _Api, spec: DataSourceSpec) -> str:
    body = spec.body()
    path = f"/api/datasources/uid/{quote(DATASOURCE_UID, safe='')}"
    if api.find(path) is None:
        api.request("POST", "/api/datasources", body)
        return "created"
    api.request("PUT", path, body)
    return "updated"


def _save_dashboard(api: _Api, model: Mapping[str, Any], folder_uid: str) -> tuple[str, int, str]:
    payload = {
        "dashboard": {**model, "id": None},
        "folderUid": folder_uid,
        "overwrite": True,
        "message": "citypulse grafana publish",
    }
    result = api.request("POST", "/api/dashboards/db", payload)
    uid, version = str(model["uid"]), result.get("version", 0)
    log.info("dashboard %s saved, version %s", uid, version)
    return uid, int(version), str(result.get("url", ""))
