"""Publishing to a running Grafana over its HTTP API, idempotently.

The folder and the data source are looked up by uid and created or updated; dashboards
are saved with ``overwrite`` so the uid decides what is replaced.  Transport errors,
timeouts and 5xx are retried with capped, jittered exponential backoff; other 4xx are
permanent and raised as :class:`PublishError` at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from citypulse import Secret
from grafana._errors import PublishError
from grafana._query import DATASOURCE_TYPE, DATASOURCE_UID

log = logging.getLogger(__name__)
T = TypeVar("T")

FOLDER_UID = "citypulse"
FOLDER_TITLE = "citypulse"


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


def _client(url: str, token: Secret, timeout: float) -> Any:
    from grafana_client.api import GrafanaApi

    return GrafanaApi.from_url(url, credential=token.value, timeout=timeout)


class _Publisher:
    def __init__(self, api: Any, *, attempts: int, base_delay: float, max_delay: float) -> None:
        self.api = api
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay

    def call(self, method: str, path: str, fn: Callable[[], T]) -> T:
        """``fn()`` with retries of transient failures; :class:`PublishError` otherwise."""
        import niquests.exceptions
        from grafana_client.client import GrafanaException, GrafanaServerError, GrafanaTimeoutError

        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except (GrafanaServerError, GrafanaTimeoutError) as exc:
                status = exc.status_code or None
                error: PublishError = PublishError(method, path, status, exc.message)
            except GrafanaException as exc:
                if exc.status_code and exc.status_code in (408, 429):
                    error = PublishError(method, path, exc.status_code, exc.message)
                elif exc.status_code:
                    raise PublishError(method, path, exc.status_code, exc.message) from exc
                else:  # a transport error the client wrapped
                    error = PublishError(method, path, None, exc.message)
            except niquests.exceptions.RequestException as exc:
                error = PublishError(method, path, None, f"{type(exc).__name__}: {exc}")
            if attempt == self.attempts:
                raise error
            delay = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
            log.warning("%s; retry %d/%d in %.2f s", error, attempt, self.attempts - 1, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def exists(self, path: str, fn: Callable[[], Any]) -> dict[str, Any] | None:
        try:
            found = self.call("GET", path, fn)
        except PublishError as exc:
            if exc.status == 404:
                return None
            raise
        return found if isinstance(found, dict) else None


def _saver(api: Any, payload: dict[str, Any]) -> Callable[[], Any]:
    return lambda: api.dashboard.update_dashboard(payload)


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
) -> PublishReport:
    """Create or update the folder, the data source and every dashboard (by uid)."""
    if not url.startswith(("http://", "https://")):
        raise PublishError("-", url, None, "the Grafana URL must be http:// or https://")
    if not token:
        raise PublishError("-", url, None, "a service account token is needed")
    p = _Publisher(
        _client(url, token, timeout), attempts=attempts, base_delay=base_delay, max_delay=max_delay
    )
    api = p.api
    path = f"/api/folders/{folder_uid}"
    if p.exists(path, lambda: api.folder.get_folder(folder_uid)) is None:
        p.call(
            "POST", "/api/folders", lambda: api.folder.create_folder(folder_title, uid=folder_uid)
        )
        folder = "created"
    else:
        p.call(
            "PUT",
            path,
            lambda: api.folder.update_folder(folder_uid, title=folder_title, overwrite=True),
        )
        folder = "updated"
    ds_state = "skipped"
    if datasource is not None:
        body = datasource.body()
        path = f"/api/datasources/uid/{DATASOURCE_UID}"
        if p.exists(path, lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID)) is None:
            p.call("POST", "/api/datasources", lambda: api.datasource.create_datasource(body))
            ds_state = "created"
        else:
            p.call(
                "PUT",
                path,
                lambda: api.datasource.update_datasource_by_uid(DATASOURCE_UID, body),
            )
            ds_state = "updated"
    saved = []
    for model in dashboards.values():
        payload = {
            "dashboard": {**model, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "citypulse grafana publish",
        }
        result = p.call("POST", "/api/dashboards/db", _saver(api, payload))
        saved.append((str(model["uid"]), int(result.get("version", 0)), str(result.get("url", ""))))
        log.info("dashboard %s saved, version %s", model["uid"], result.get("version"))
    return PublishReport(folder, ds_state, tuple(saved))
