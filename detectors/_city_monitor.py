"""The city set's common ground: its thresholds and what every device's monitor does.

:class:`CityConfig` holds the thresholds of every monitor.  :class:`Monitor` is the
part every device kind shares: :class:`~detectors.Silence` (k × the report interval,
driven by ticks) and the MQTT last will / offline status → ``device_silent``; dead
letters → ``invalid_data``.  The kind monitors (``detectors._city_*``) add their own
detectors on top; :func:`detectors._city.monitor_for` picks one per device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from citypulse import Device, IncidentType
from detectors._health import Silence
from detectors._incidents import Finding, Judgement, iso, normal
from detectors._rows import ReadingRow

_T = IncidentType
RowT = TypeVar("RowT", bound=ReadingRow)


@dataclass(frozen=True, slots=True)
class CityConfig:
    """Thresholds of the city set; defaults are the evaluated configuration."""

    silence_k: float = 3.0
    # ... and never less than this: a controller reporting every second is not "silent"
    # after 3 s, which transport alone (publish to commit, a poll) can take under load
    silence_min_s: float = 30.0
    max_phase_s: float = 150.0
    dark_grace_s: float = 60.0
    lamp_reports: int = 2
    frozen_repeats: int = 3
    collapse_expected: float = 16.0
    jam_speed_kmh: float = 13.0
    jam_occupancy: float = 0.55
    jam_readings: int = 3
    spike_z: float = 8.0
    spike_min_excess: float = 10.0
    flow_z: float = 8.0  # a count this many spreads above the lane's usual for the hour
    flow_local_z: float = 5.0  # ... and this many above its recent level
    parking_stuck_s: float = 2 * 3600.0
    parking_full_s: float = 160 * 60.0
    parking_gap_s: float = 30 * 60.0  # spots free for less than this: still one full period
    parking_full_share: float = 0.6  # of a full period's readings, at least this many full
    parking_full_z: float = 3.0  # full this many spreads above the lot's usual share
    air_lasts_s: float = 0.0
    drift_h: float = 10.0
    log_spike_z: float = 5.0
    multivariate: str = "none"  # none | hst | iforest
    multivariate_threshold: float = 0.9
    seed: int = 0


class Monitor(Generic[RowT]):
    """Every detector of one device, fed its kind's rows ``RowT``; see the module docstring."""

    __slots__ = ("_last", "_offline", "device_id", "interval", "lag", "silence")

    def __init__(self, device: Device, config: CityConfig) -> None:
        self.device_id = device.id
        self.interval = max(1.0, float(device.report_interval_s))
        k = max(config.silence_k, config.silence_min_s / self.interval)
        self.silence = Silence(expected_interval_s=self.interval, k=k)
        self._last: dict[Any, float] = {}  # series key -> newest reading time processed
        self._offline: float | None = None
        # How far behind the clock the device's newest reading arrived (the live worker
        # sets it, see detectors._worker.Engine): its silence is judged that far back.
        self.lag = 0.0

    def fresh(self, key: Any, t: float) -> bool:
        """Whether the reading at ``t`` is new for its series (dedupe and order guard)."""
        last = self._last.get(key)
        if last is not None and t <= last:
            return False
        self._last[key] = t
        return True

    def reading(self, row: RowT, out: list[Judgement]) -> None:
        """Judge one stored reading (a row as the worker selects it for this kind)."""
        t = row.time
        self.silence.update(t, None)
        self._offline = None
        out.append(normal(_T.DEVICE_SILENT, t))
        out.append(normal(_T.INVALID_DATA, t))

    def status(self, t: float, online: bool, reason: str, out: list[Judgement]) -> None:
        if online:
            self._offline = None
            out.append(normal(_T.DEVICE_SILENT, t))
            return
        self._offline = t
        # The evidence is how long the device has been without data, as for Silence; a
        # device never heard from has no such duration (not "0 s").
        last = self.silence.last_seen
        out.append(
            Finding(
                _T.DEVICE_SILENT,
                t,
                detector="DeviceStatus",
                metric="online",
                value=None if last is None else round(max(0.0, t - last), 1),
                unit="s",
                extra={"reason": reason, "last_seen": _iso_or_none(self.silence.last_seen)},
            )
        )

    def dead_letter(self, t: float, reason: str, detail: str, out: list[Judgement]) -> None:
        # A device sending garbage is not silent: it is a data problem, not a dead device.
        self.silence.update(t, None)
        out.append(normal(_T.DEVICE_SILENT, t))
        out.append(
            Finding(
                _T.INVALID_DATA,
                t,
                detector="ingest",
                metric="payload",
                extra={"reason": reason, "detail": detail[:300]},
            )
        )

    def tick(self, now: float, out: list[Judgement]) -> None:
        if self.silence.tick(now) > 0.0:
            last = self.silence.last_seen
            assert last is not None
            out.append(
                Finding(
                    _T.DEVICE_SILENT,
                    now,
                    detector="Silence",
                    metric="reading_interval",
                    value=round(now - last, 1),
                    limit=self.silence.k * self.interval,
                    unit="s",
                    since=last + self.interval,
                    extra={
                        "reason": "silence" if self._offline is None else "last_will",
                        "last_seen": iso(last),
                        "expected_interval_s": self.interval,
                    },
                )
            )


def _iso_or_none(t: float | None) -> str | None:
    return None if t is None else iso(t)
