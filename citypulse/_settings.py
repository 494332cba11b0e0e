"""One frozen settings object, built by the entry point from the environment.

Components take what they need as keyword arguments and never read the environment
themselves.  Secrets (passwords in URLs, API keys) are masked in every ``repr``.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

from citypulse._errors import ConfigError

SchemaMode = Literal["auto", "timescale", "plain"]
UnknownDevicePolicy = Literal["register", "reject"]
Locale = Literal["ru", "en"]
LOCALES: tuple[Locale, ...] = ("ru", "en")

_DEFAULT_DATABASE_URL = "postgresql://localhost:5432/citypulse"
_DEFAULT_MQTT_URL = "mqtt://localhost:1883"
_CONNECTOR_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (for logs and reprs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def split_url(url: str) -> SplitResult:
    """``url`` in parts, its port checked; ValueError saying why not (the URL masked)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as exc:
        raise ValueError(f"not a URL: {mask_url(url)} ({exc})") from exc
    return parts


def check_database_url(url: str) -> str:
    """``url`` when it is a ``postgresql://`` URL, else ValueError saying why (masked)."""
    if split_url(url).scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a postgresql:// URL: {mask_url(url)}")
    return url


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret string: compares and hashes by value, never prints it."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    def __str__(self) -> str:
        return "***" if self.value else ""

    def __bool__(self) -> bool:
        return bool(self.value)


def session_secret(raw: str) -> Secret:
    """``CITYPULSE_SESSION_SECRET``: empty (the console makes one per process) or at least
    32 characters, so that a console session cookie cannot be forged."""
    if raw and len(raw) < 32:
        raise ConfigError("CITYPULSE_SESSION_SECRET", "at least 32 characters (or unset)")
    return Secret(raw)


@dataclass(frozen=True, slots=True)
class MqttUrl:
    """A parsed ``mqtt://`` or ``mqtts://`` URL."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: Secret

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        try:
            parts: SplitResult = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigError("CITYPULSE_MQTT_URL", f"not a URL: {exc}") from exc
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ConfigError(
                "CITYPULSE_MQTT_URL", f"scheme must be mqtt:// or mqtts://, got {parts.scheme!r}"
            )
        tls = parts.scheme in ("mqtts", "ssl")
        if not parts.hostname:
            raise ConfigError("CITYPULSE_MQTT_URL", "no host")
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=Secret(unquote(parts.password) if parts.password else ""),
        )

    def url(self) -> str:
        """The URL with its password masked."""
        auth = ""
        if self.username:
            auth = quote(self.username, safe="") + (":***" if self.password else "") + "@"
        return f"{'mqtts' if self.tls else 'mqtt'}://{auth}{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"MqttUrl({self.url()!r})"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, from ``CITYPULSE_*`` environment variables."""

    database_url: str = field(default=_DEFAULT_DATABASE_URL, repr=False)
    read_database_url: str = field(default="", repr=False)
    mqtt: MqttUrl = field(default_factory=lambda: MqttUrl.parse(_DEFAULT_MQTT_URL))
    mqtt_ca_file: str | None = None
    mqtt_client_id: str = field(default_factory=lambda: f"citypulse-{socket.gethostname()}")
    mqtt_share_group: str = "citypulse"
    schema_mode: SchemaMode = "auto"
    retention_days: int | None = None  # None: keep the database's (365 days when new)
    unknown_devices: UnknownDevicePolicy = "register"
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    log_level: str = "INFO"
    api_keys: tuple[Secret, ...] = ()
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    routing_file: str | None = None  # None: appeals/routing.default.yaml
    locale: Locale | None = None  # of generated texts; None: the routing file's ``locale``
    connectors: tuple[str, ...] = ()  # outbox rows are written for each of these names
    grafana_url: str = "http://localhost:3000"
    grafana_token: Secret = field(default_factory=lambda: Secret(""))
    grafana_db_user: str = ""
    grafana_db_password: Secret = field(default_factory=lambda: Secret(""))
    webhook_url: str = field(default="", repr=False)
    open311_url: str = field(default="", repr=False)
    open311_api_key: Secret = field(default_factory=lambda: Secret(""))
    open311_jurisdiction: str = ""
    delivery_timeout_s: int = 10
    status_sync_interval_s: int = 300
    session_secret: Secret = field(default_factory=lambda: Secret(""))  # signs console cookies
    citizens_api_key: Secret = field(default_factory=lambda: Secret(""))  # simulate --citizens

    def __repr__(self) -> str:
        return (
            f"Settings(database_url={mask_url(self.database_url)!r}, "
            f"read_database_url={mask_url(self.reader_url)!r}, mqtt={self.mqtt!r}, "
            f"schema_mode={self.schema_mode!r}, retention_days={self.retention_days}, "
            f"unknown_devices={self.unknown_devices!r}, worker_id={self.worker_id!r}, "
            f"api_keys={len(self.api_keys)} configured, connectors={self.connectors!r}, "
            f"locale={self.locale!r})"
        )

    @property
    def reader_url(self) -> str:
        """URL for read-only queries: a replica where one is configured."""
        return self.read_database_url or self.database_url

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given fields replaced (CLI flags win over the environment)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: ``os.environ``); raise :class:`ConfigError`."""
        env = os.environ if env is None else env
        base = cls()

        def get(name: str, default: str) -> str:
            return env.get(f"CITYPULSE_{name}", default).strip()

        def integer(name: str, default: int, low: int = 1) -> int:
            raw = get(name, str(default))
            try:
                value = int(raw)
            except ValueError as exc:
                raise ConfigError(f"CITYPULSE_{name}", f"expected an integer, got {raw!r}") from exc
            if value < low:
                raise ConfigError(f"CITYPULSE_{name}", f"must be at least {low}")
            return value

        mode = get("SCHEMA_MODE", "auto")
        if mode not in ("auto", "timescale", "plain"):
            raise ConfigError("CITYPULSE_SCHEMA_MODE", "must be auto, timescale or plain")
        unknown = get("UNKNOWN_DEVICES", "register")
        if unknown not in ("register", "reject"):
            raise ConfigError("CITYPULSE_UNKNOWN_DEVICES", "must be register or reject")
        connectors = tuple(c.strip().lower() for c in get("CONNECTORS", "").split(",") if c.strip())
        for name in connectors:
            if not _CONNECTOR_NAME.match(name):
                raise ConfigError("CITYPULSE_CONNECTORS", f"not a connector name: {name!r}")
        keys = tuple(Secret(k.strip()) for k in get("API_KEYS", "").split(",") if k.strip())
        locale = get("LOCALE", "").lower() or None
        if locale is not None and locale not in LOCALES:
            raise ConfigError("CITYPULSE_LOCALE", f"must be ru or en, got {locale!r}")

        def database_url(name: str, default: str) -> str:
            url = get(name, default)
            try:
                return check_database_url(url) if url else url
            except ValueError as exc:
                raise ConfigError(f"CITYPULSE_{name}", str(exc)) from exc

        return cls(
            database_url=database_url("DATABASE_URL", _DEFAULT_DATABASE_URL),
            read_database_url=database_url("READ_DATABASE_URL", ""),
            mqtt=MqttUrl.parse(get("MQTT_URL", _DEFAULT_MQTT_URL)),
            mqtt_ca_file=get("MQTT_CA_FILE", "") or None,
            mqtt_client_id=get("MQTT_CLIENT_ID", base.mqtt_client_id),
            mqtt_share_group=get("MQTT_SHARE_GROUP", "citypulse"),
            schema_mode=mode,  # type: ignore[arg-type]
            retention_days=integer("RETENTION_DAYS", 1) if get("RETENTION_DAYS", "") else None,
            unknown_devices=unknown,  # type: ignore[arg-type]
            worker_id=get("WORKER_ID", base.worker_id),
            log_level=get("LOG_LEVEL", "INFO").upper(),
            api_keys=keys,
            webhook_secret=Secret(get("WEBHOOK_SECRET", "")),
            routing_file=get("ROUTING_FILE", "") or None,
            locale=locale,
            connectors=connectors,
            grafana_url=get("GRAFANA_URL", base.grafana_url).rstrip("/"),
            grafana_token=Secret(get("GRAFANA_TOKEN", "")),
            grafana_db_user=get("GRAFANA_DB_USER", ""),
            grafana_db_password=Secret(get("GRAFANA_DB_PASSWORD", "")),
            webhook_url=get("WEBHOOK_URL", ""),
            open311_url=get("OPEN311_URL", ""),
            open311_api_key=Secret(get("OPEN311_API_KEY", "")),
            open311_jurisdiction=get("OPEN311_JURISDICTION", ""),
            delivery_timeout_s=integer("DELIVERY_TIMEOUT", 10),
            status_sync_interval_s=integer("STATUS_SYNC_INTERVAL", 300),
            session_secret=session_secret(get("SESSION_SECRET", "")),
            citizens_api_key=Secret(get("CITIZENS_API_KEY", "")),
        )
