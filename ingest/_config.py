"""The settings of one ingest worker (and of a takeover of a dead peer's session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from citypulse import MqttUrl


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Everything one ingest worker needs; built by the CLI from Settings and flags."""

    database_url: str = field(repr=False)
    mqtt: MqttUrl
    client_id: str
    worker_id: str
    share_group: str = "citypulse"
    topic_root: str = "city"
    mqtt_ca_file: str | None = None
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    unknown_devices: Literal["register", "reject"] = "register"
    retention: timedelta = timedelta(days=365)
    batch_size: int = 5_000  # messages
    batch_rows: int = 10_000  # readings: a batch of 50-reading messages closes sooner
    batch_age: float = 0.1
    flushers: int = 2
    receive_maximum: int = 20_000
    max_pending: int = 40_000  # messages
    max_pending_rows: int = 200_000  # readings
    session_expiry: int = 7 * 86_400
    keepalive: int = 30
    stats_interval: float = 5.0
    maintain_interval: float = 10.0
    retry_cap: float = 10.0
    rate_limit: float | None = 50.0  # readings/s per device; None: no limit
    rate_burst: float = 5_000.0  # readings a device may send at once (a buffered backlog)
    statement_timeout: float = 30.0  # s, for each statement of a batch
    shutdown_timeout: float = 30.0
    outage_report_interval: float = 30.0  # s between log lines while the database is away
    # A peer silent this long has its session drained and ended by a survivor (None: never)
    takeover_after: float | None = 45.0
    heartbeat_interval: float = 5.0  # s between heartbeats in ingest_sessions
    progress_interval: float = 0.25  # s between writes of committed_through (ingest_progress)
    drain_quiet: float = 2.0  # s without a message after which a session counts as drained
    drain: bool = False  # take over an existing session: no new messages, drain, end it

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= self.max_pending:
            raise ValueError("batch_size must be between 1 and max_pending")
        if not 1 <= self.batch_rows <= self.max_pending_rows:
            raise ValueError("batch_rows must be between 1 and max_pending_rows")
        if not 1 <= self.receive_maximum <= 65_535:
            raise ValueError("receive_maximum must be 1..65535")
        if self.batch_age <= 0:
            raise ValueError("batch_age must be positive")
        if not 1 <= self.flushers <= 16:
            raise ValueError("flushers must be 1..16")
        if not self.outage_report_interval > 0:
            raise ValueError("outage_report_interval must be positive")
        if self.takeover_after is not None and not (
            0 < self.heartbeat_interval < self.takeover_after
        ):
            raise ValueError("heartbeat_interval must be positive and below takeover_after")
        if not self.progress_interval > 0:
            raise ValueError("progress_interval must be positive")
        if not self.drain_quiet > 0:
            raise ValueError("drain_quiet must be positive")

    @property
    def group_key(self) -> str:
        """The shared subscription as the broker keys it: the group's name and the topic
        root (``citypulse/city``).  Workers of one name but different roots share nothing."""
        return f"{self.share_group}/{self.topic_root}"

    @property
    def subscriptions(self) -> tuple[str, ...]:
        base = f"{self.topic_root}/+/+/+"
        prefix = f"$share/{self.share_group}/" if self.share_group else ""
        return (f"{prefix}{base}/telemetry", f"{prefix}{base}/status")
