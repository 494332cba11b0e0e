"""An Open311 GeoReport v2 client: appeals posted to another Open311 endpoint.

``POST requests.json`` (form-encoded) creates the request; the remote's
``service_request_id`` (or ``token``, stored as ``token:<t>``) becomes ``outbox.remote_id``.

Open311 has no idempotency of its own, so a retry must not create a second request:

- every POST carries the ``Idempotency-Key`` header and ``attribute[external_id]`` set
  to the entry's idempotency key (a citypulse server dedupes on either), and the
  description ends with the tag ``[citypulse:<key>]``;
- any attempt after the first (the previous one may have reached the remote, e.g. a
  timeout after the body was sent) first looks the request up with ``GET requests.json``
  (``service_code`` and a date window, plus ``external_id`` for servers that filter on it)
  and matches ``external_id`` or the tag; only when it is not there is it posted again.

GeoReport v2 cannot update a request, so ``updated`` events are recorded as delivered
without a call.  Status flows back: :meth:`Open311Connector.sync_status` reads
``GET requests/{id}.json`` (``open`` / ``closed`` and ``status_notes``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from citypulse import ConfigError, Secret, Settings
from connectors._connector import DeliveryResult, RemoteStatus
from connectors._errors import PermanentDeliveryError, TransientDeliveryError
from connectors._http import send
from connectors._outbox import OutboxEntry

log = logging.getLogger(__name__)

_DESCRIPTION_MAX = 4000  # GeoReport v2 limit
_LOOKUP_WINDOW = timedelta(hours=6)
# Payload fields passed on as attribute[...] so the remote keeps citypulse's context.
_EXTRAS = ("sector", "priority", "source", "incident_id", "title", "expected_datetime", "district")


def tag(key: str) -> str:
    """The marker ending every description, found again by the lookup."""
    return f"[citypulse:{key}]"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return orjson.dumps(value).decode()


def _float(payload: Mapping[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise PermanentDeliveryError(f"payload {key}={value!r} is not a number") from None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise TransientDeliveryError(
            f"{response.request.method} {response.request.url.path}: response is not JSON",
            status=response.status_code,
        ) from exc


def _first(document: Any) -> Mapping[str, Any]:
    """GeoReport v2 wraps single results in a list."""
    if isinstance(document, list) and document and isinstance(document[0], Mapping):
        return document[0]
    if isinstance(document, Mapping):
        return document
    return {}


@dataclass(frozen=True, slots=True)
class Open311Connector:
    """Posts appeals to ``base_url`` (the directory holding ``requests.json``)."""

    base_url: str
    api_key: Secret = field(repr=False)
    jurisdiction: str = ""
    name: str = "open311"

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"Open311 URL must be http(s)://, got {self.base_url[:40]!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> Open311Connector:
        if not settings.open311_url:
            raise ConfigError("CITYPULSE_OPEN311_URL", "required by the open311 connector")
        try:
            return cls(
                base_url=settings.open311_url,
                api_key=settings.open311_api_key,
                jurisdiction=settings.open311_jurisdiction,
            )
        except ValueError as exc:
            raise ConfigError("CITYPULSE_OPEN311_URL", str(exc)) from exc

    def _url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path}"

    def _params(self, **extra: str) -> dict[str, str]:
        params = {"jurisdiction_id": self.jurisdiction} if self.jurisdiction else {}
        params.update(extra)
        return params

    # -- create -----------------------------------------------------------------------

    def form(self, entry: OutboxEntry) -> dict[str, str]:
        """The ``POST requests`` fields for ``entry``; a payload that cannot make a valid
        request is a permanent error."""
        p = entry.payload
        service_code = _text(p.get("service_code")).strip()
        if not service_code:
            raise PermanentDeliveryError("payload has no service_code")
        lat, lon = _float(p, "lat"), _float(p, "long")
        address = _text(p.get("address") or p.get("address_string")).strip()
        address_id = _text(p.get("address_id")).strip()
        if (lat is None or lon is None) and not address and not address_id:
            raise PermanentDeliveryError("payload has neither lat/long nor an address")
        marker = tag(entry.idempotency_key)
        text = _text(p.get("description")).strip() or _text(p.get("title")).strip()
        text = text[: _DESCRIPTION_MAX - len(marker) - 2].rstrip()
        form = self._params(
            service_code=service_code,
            description=f"{text}\n\n{marker}" if text else marker,
        )
        if self.api_key:
            form["api_key"] = self.api_key.value
        if lat is not None and lon is not None:
            form["lat"], form["long"] = repr(lat), repr(lon)
        if address:
            form["address_string"] = address
        if address_id:  # GeoReport v2 takes it in place of coordinates, as we do
            form["address_id"] = address_id
        if p.get("media_url"):
            form["media_url"] = _text(p["media_url"])
        form["attribute[external_id]"] = entry.idempotency_key
        form["attribute[citypulse_appeal_id]"] = str(entry.appeal_id)
        for key in _EXTRAS:
            if p.get(key) not in (None, ""):
                form[f"attribute[{key}]"] = _text(p[key])
        return form

    def find(self, client: httpx.Client, entry: OutboxEntry) -> str | None:
        """The remote id of a request an earlier attempt created, if the remote has it."""
        start = entry.created_at - _LOOKUP_WINDOW
        params = self._params(
            service_code=_text(entry.payload.get("service_code")),
            start_date=start.isoformat(),
            end_date=(datetime.now(start.tzinfo) + _LOOKUP_WINDOW).isoformat(),
            external_id=entry.idempotency_key,
        )
        response = send(
            client, client.build_request("GET", self._url("requests.json"), params=params)
        )
        document = _json(response)
        marker = tag(entry.idempotency_key)
        for item in document if isinstance(document, list) else []:
            if not isinstance(item, Mapping) or item.get("service_request_id") in (None, ""):
                continue
            if item.get("external_id") == entry.idempotency_key or marker in _text(
                item.get("description")
            ):
                return _text(item["service_request_id"])
        return None

    def deliver(self, client: httpx.Client, entry: OutboxEntry) -> DeliveryResult:
        if entry.event != "created":
            # GeoReport v2 has no update call; the remote's status is synced back instead.
            return DeliveryResult(status=None, remote_id=entry.remote_id)
        form = self.form(entry)
        if entry.attempt > 1:
            found = self.find(client, entry)
            if found is not None:
                log.info("outbox %d: request already at the remote as %s", entry.id, found)
                return DeliveryResult(status=200, remote_id=found)
        request = client.build_request(
            "POST",
            self._url("requests.json"),
            data=form,
            headers={"Idempotency-Key": entry.idempotency_key},
        )
        response = send(client, request)
        first = _first(_json(response))
        if first.get("service_request_id") not in (None, ""):
            return DeliveryResult(response.status_code, _text(first["service_request_id"]))
        if first.get("token") not in (None, ""):
            return DeliveryResult(response.status_code, f"token:{_text(first['token'])}")
        log.warning("outbox %d: remote accepted the request but returned no id", entry.id)
        return DeliveryResult(status=response.status_code)

    # -- status -----------------------------------------------------------------------

    def _get(self, client: httpx.Client, path: str) -> Mapping[str, Any]:
        request = client.build_request("GET", self._url(path), params=self._params())
        return _first(_json(send(client, request)))

    def sync_status(self, client: httpx.Client, remote_id: str) -> RemoteStatus:
        if remote_id.startswith("token:"):
            token = remote_id.removeprefix("token:")
            found = self._get(client, f"tokens/{quote(token, safe='')}.json")
            if found.get("service_request_id") in (None, ""):
                return RemoteStatus(remote_id=remote_id, status="")
            remote_id = _text(found["service_request_id"])
        item = self._get(client, f"requests/{quote(remote_id, safe='')}.json")
        updated: datetime | None = None
        if isinstance(item.get("updated_datetime"), str):
            try:
                updated = datetime.fromisoformat(item["updated_datetime"])
            except ValueError:
                updated = None
        return RemoteStatus(
            remote_id=remote_id,
            status=_text(item.get("status")).lower(),
            notes=_text(item.get("status_notes")),
            agency=_text(item.get("agency_responsible")),
            updated_at=updated,
        )
