"""The city detector set: which detectors watch which device kind, and what they find.

One :class:`Monitor` per device turns its stored readings, status changes, dead letters
and the passage of time into :class:`~detectors._incidents.Finding` objects, one per
incident type it judges: an alarm with evidence, or "normal" (which lets an open
incident resolve).  Per kind:

- every device: :class:`~detectors.Silence` (k × its report interval, driven by ticks,
  so it fires while nothing arrives) and its MQTT last will / offline status →
  ``device_silent``; dead letters (malformed payloads, wrong units) → ``invalid_data``.
- traffic light: :class:`~detectors.StuckPhase` → ``stuck_phase``; flashing yellow /
  off for a minute (:class:`~detectors.SignalDark`) → ``signal_flashing`` /
  ``signal_dark``; :class:`~detectors.LampFault` → ``lamp_fault``.
- camera, per lane: :class:`~detectors.CameraConsistency` → ``invalid_data``; the same
  non-empty report repeated (:class:`Repeats`) → ``frozen_values``; counts collapsing
  to zero where traffic is expected (:class:`Collapse`) → ``camera_obstructed``; a
  jammed lane (:class:`Jam`: low speed at high occupancy for minutes) →
  ``congestion``; a count far above the lane's level (:class:`CountSpike`) →
  ``anomaly``.
- parking: :class:`~detectors.ParkingConsistency` → ``invalid_data``; a count that does
  not move away from the bounds for two hours → ``parking_stuck``; no usable spot free
  for 160 minutes → ``parking_full``.
- ecology: both СанПиН 1.2.3685-21 limits of every pollutant
  (:func:`~detectors.air_quality_rule`) → ``air_quality_exceedance``; PM2.5 drifting
  away from what the co-located PM10 says (:class:`PairDrift`) → ``sensor_drift``; a
  jump of a pollutant by a large factor (:class:`LogSpike`) → ``anomaly``.

Optionally (``multivariate``), cameras also get a learnt per-device model of flow,
speed and occupancy together (:class:`~detectors.CameraForest` or
:class:`~detectors.CameraIsolationForest`) → ``anomaly``.

Monitors hold only detectors (plain Python state), so they pickle into checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from citypulse import AIR_LIMITS, Device, DeviceKind, IncidentType
from detectors._base import Detector, check, clip01, squash
from detectors._health import LampFault, SignalDark, Silence, StuckPhase
from detectors._incidents import Finding, iso, normal
from detectors._rules import LimitRule, air_quality_rule
from detectors._traffic import FullForLong, ParkingStuck
from detectors._validity import CameraConsistency, ParkingConsistency

_T = IncidentType
NAN = math.nan


@dataclass(frozen=True, slots=True)
class CityConfig:
    """Thresholds of the city set; defaults are the evaluated configuration."""

    silence_k: float = 3.0
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
    parking_stuck_s: float = 2 * 3600.0
    parking_full_s: float = 160 * 60.0
    air_lasts_s: float = 0.0
    drift_h: float = 10.0
    log_spike_z: float = 5.0
    multivariate: str = "none"  # none | hst | iforest
    multivariate_threshold: float = 0.9
    seed: int = 0


# --- small detectors of the city set -------------------------------------------------------


class Repeats(Detector[tuple[float, ...]]):
    """Scores 1 once the same report has come ``n`` times in a row.

    Exact repetition of a multi-field report (count, speed, occupancy) does not happen
    in real traffic; reports with fewer than two non-zero fields (a bare count, an empty
    street at night) are not judged: repeating them is ordinary, and a camera blinded
    where traffic was expected is :class:`Collapse`'s to find.
    """

    __slots__ = ("_last", "_run", "_since", "n")

    def __init__(self, *, n: int = 3) -> None:
        check(n >= 2, "n must be >= 2")
        self.n = n
        self._last: tuple[float, ...] | None = None
        self._run = 0
        self._since = 0.0

    @property
    def since(self) -> float:
        return self._since

    @property
    def run(self) -> int:
        return self._run

    def update(self, t: float, x: tuple[float, ...]) -> float:
        if sum(1 for v in x if v == v and v != 0.0) < 2:  # too little to tell
            self._last, self._run = None, 0
            return 0.0
        if x == self._last:
            self._run += 1
        else:
            self._last, self._run, self._since = x, 1, t
        return 1.0 if self._run >= self.n else 0.0


class Collapse(Detector[float]):
    """Counts stuck at zero where the lane's recent level makes that improbable.

    An exponentially weighted level (``span`` readings) of the count is kept; during a
    run of zeros the levels before each zero are summed: under a Poisson model the
    chance of the run is exp(-sum).  Scores 1 once the sum reaches ``expected`` (16:
    about 1e-7) after at least two zeros.  Because the level decays through the run, a
    street that empties at night never gets there; a camera blinded in traffic does
    within two or three reports.
    """

    __slots__ = ("_a", "_level", "_n", "_run", "_sum", "expected", "span", "warm_up")

    def __init__(self, *, expected: float = 16.0, span: int = 30, warm_up: int = 10) -> None:
        check(expected > 0 and span >= 2 and warm_up >= 1, "bad Collapse parameters")
        self.expected = expected
        self.span = span
        self.warm_up = warm_up
        self._a = 2.0 / (span + 1.0)
        self._level = 0.0
        self._n = 0
        self._run = 0
        self._sum = 0.0

    @property
    def level(self) -> float:
        return self._level

    def update(self, t: float, x: float) -> float:
        if x != x or x < 0 or x == math.inf:
            return 0.0
        score = 0.0
        if x == 0.0:
            self._run += 1
            self._sum += self._level
            if self._n >= self.warm_up and self._run >= 2 and self._sum >= self.expected:
                score = 1.0
        else:
            self._run, self._sum = 0, 0.0
        n = self._n
        a = self._a if n >= self.span else 1.0 / (n + 1)
        self._level += a * (x - self._level)
        self._n = n + 1
        return score


class Jam(Detector[tuple[float, float]]):
    """``(speed km/h, occupancy)``: speed at most ``speed`` with occupancy at least
    ``occupancy`` for ``readings`` reports in a row (level of service F)."""

    __slots__ = ("_run", "_since", "occupancy", "readings", "speed")

    def __init__(self, *, speed: float = 13.0, occupancy: float = 0.55, readings: int = 3):
        check(speed > 0 and 0 < occupancy <= 1 and readings >= 1, "bad Jam parameters")
        self.speed = speed
        self.occupancy = occupancy
        self.readings = readings
        self._run = 0
        self._since = 0.0

    @property
    def since(self) -> float:
        return self._since

    def update(self, t: float, x: tuple[float, float]) -> float:
        v, occ = x
        if v == v and occ == occ and v <= self.speed and occ >= self.occupancy:
            if self._run == 0:
                self._since = t
            self._run += 1
            return 1.0 if self._run >= self.readings else 0.0
        self._run = 0
        return 0.0


class CountSpike(Detector[float]):
    """A count far above the series' exponentially weighted level.

    The spread is at least the Poisson one (sqrt of the level, and at least 1), so
    sparse night counts do not turn a single car into an outlier.  Scores
    ``squash(z, half)`` once ``z`` ≥ ``z_min`` and the count is at least ``min_ratio`` ×
    the level (2 at least) plus ``min_excess``: the end of a jam or the morning rush
    raise counts threefold at most.  Outliers are not learnt from.
    """

    __slots__ = (
        "_a",
        "_mean",
        "_n",
        "_var",
        "half",
        "min_excess",
        "min_ratio",
        "span",
        "warm_up",
        "z_min",
    )

    def __init__(
        self,
        *,
        z_min: float = 8.0,
        min_excess: float = 10.0,
        min_ratio: float = 4.0,
        span: int = 30,
        half: float = 4.0,
        warm_up: int = 20,
    ) -> None:
        check(z_min > 0 and span >= 2 and half > 0 and warm_up >= 1, "bad CountSpike parameters")
        self.z_min = z_min
        self.min_excess = min_excess
        self.min_ratio = min_ratio
        self.span = span
        self.half = half
        self.warm_up = warm_up
        self._a = 2.0 / (span + 1.0)
        self._n = 0
        self._mean = 0.0
        self._var = 0.0

    @property
    def mean(self) -> float:
        return self._mean

    def z(self, x: float) -> float:
        spread = math.sqrt(max(self._var, self._mean, 1.0))
        return (x - self._mean) / spread

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        n = self._n
        if n >= self.warm_up:
            z = self.z(x)
            floor = self.min_ratio * max(self._mean, 2.0) + self.min_excess
            if z >= self.z_min and (self.min_ratio == 0.0 or x >= floor):
                return clip01(squash(z, self.half))  # not learnt: one wild value
        d = x - self._mean
        a = self._a if n >= self.span else 1.0 / (n + 1)
        self._mean += a * d
        self._var = (1.0 - a) * (self._var + a * d * d)
        self._n = n + 1
        return 0.0


class LogSpike(CountSpike):
    """:class:`CountSpike` on log10 of a positive concentration: a jump by a factor."""

    __slots__ = ("min_spread",)

    def __init__(
        self, *, z_min: float = 5.0, span: int = 36, min_spread: float = 0.07, warm_up: int = 12
    ) -> None:
        super().__init__(
            z_min=z_min, min_excess=0.0, min_ratio=0.0, span=span, half=z_min, warm_up=warm_up
        )
        self.min_spread = min_spread

    def z(self, x: float) -> float:
        return (x - self._mean) / max(math.sqrt(self._var), self.min_spread)

    def update(self, t: float, x: float) -> float:
        if not x > 0.0 or x == math.inf:
            return 0.0
        return super().update(t, math.log10(x))


class PairDrift(Detector[tuple[float, float]]):
    """``(y, x)``: ``y`` drifting away from what a co-located, correlated ``x`` predicts.

    An exponentially weighted linear fit of y on x (``span`` readings) gives the
    residual; a two-sided CUSUM of the standardised residual (each step clipped to
    ±``clip``, slack ``k``) scores 1 at ``h``.  The fit learns only while the CUSUM is
    quiet, so a slow drift is not absorbed into the model.  PM2.5 against PM10 of the
    same station: both follow traffic and weather, so a drift of one sensor stands out
    long before it is visible against the daily cycle.  After ``reset_after`` alarming
    readings the relation is learnt afresh.
    """

    __slots__ = (
        "_a",
        "_cxy",
        "_mx",
        "_my",
        "_n",
        "_neg",
        "_pos",
        "_r2",
        "_run",
        "_vx",
        "clip",
        "h",
        "k",
        "min_spread",
        "reset_after",
        "span",
        "warm_up",
    )

    def __init__(
        self,
        *,
        h: float = 10.0,
        k: float = 1.0,
        clip: float = 4.0,
        span: int = 72,
        min_spread: float = 0.5,
        warm_up: int = 72,
        reset_after: int = 72,
    ) -> None:
        check(h > 0 and k >= 0 and clip > 0 and span >= 2, "bad PairDrift parameters")
        check(min_spread > 0 and warm_up >= 3 and reset_after >= 1, "bad PairDrift parameters")
        self.reset_after = reset_after
        self._run = 0
        self.h = h
        self.k = k
        self.clip = clip
        self.span = span
        self.min_spread = min_spread
        self.warm_up = warm_up
        self._a = 2.0 / (span + 1.0)
        self._n = 0
        self._mx = self._my = self._vx = self._cxy = 0.0
        self._r2 = 0.0
        self._pos = self._neg = 0.0

    def predict(self, x: float) -> float:
        b = self._cxy / self._vx if self._vx > 1e-12 else 0.0
        return self._my + b * (x - self._mx)

    @property
    def offset_sign(self) -> float:
        return 1.0 if self._pos >= self._neg else -1.0

    def update(self, t: float, x: tuple[float, float]) -> float:
        y, ref = x
        if y != y or ref != ref or y in (math.inf, -math.inf) or ref in (math.inf, -math.inf):
            return 0.0
        n = self._n
        score = 0.0
        learn = True
        if n >= self.warm_up:
            r = y - self.predict(ref)
            z = r / max(math.sqrt(self._r2), self.min_spread)
            z = max(-self.clip, min(self.clip, z))
            self._pos = max(0.0, self._pos + z - self.k)
            self._neg = max(0.0, self._neg - z - self.k)
            s = max(self._pos, self._neg)
            score = 1.0 if s >= self.h else 0.0
            learn = s < self.h / 2
            self._run = self._run + 1 if score else 0
            if self._run >= self.reset_after:
                # Alarmed for so long that the relation itself has changed (a recalibrated
                # or replaced sensor): learn it afresh rather than alarm forever.
                self._n, self._run, self._pos, self._neg, self._r2 = 0, 0, 0.0, 0.0, 0.0
                return score
            if learn:
                self._r2 += self._a * (r * r - self._r2)
        if learn:
            a = self._a if n >= self.span else 1.0 / (n + 1)
            dx, dy = ref - self._mx, y - self._my
            self._mx += a * dx
            self._my += a * dy
            self._vx = (1.0 - a) * (self._vx + a * dx * dx)
            self._cxy = (1.0 - a) * (self._cxy + a * dx * dy)
            if n < self.warm_up:
                r = y - self.predict(ref)
                self._r2 += a * (r * r - self._r2)
            self._n = n + 1
        return score


# --- monitors -------------------------------------------------------------------------------


class Monitor:
    """Every detector of one device; see the module docstring for what it finds."""

    __slots__ = ("_last", "_offline", "device_id", "interval", "silence")

    def __init__(self, device: Device, config: CityConfig) -> None:
        self.device_id = device.id
        self.interval = max(1.0, float(device.report_interval_s))
        self.silence = Silence(expected_interval_s=self.interval, k=config.silence_k)
        self._last: dict[Any, float] = {}  # series key -> newest reading time processed
        self._offline: float | None = None

    def fresh(self, key: Any, t: float) -> bool:
        """Whether the reading at ``t`` is new for its series (dedupe and order guard)."""
        last = self._last.get(key)
        if last is not None and t <= last:
            return False
        self._last[key] = t
        return True

    def reading(self, row: tuple[Any, ...], out: list[Finding]) -> None:
        """Judge one stored reading (a row as the worker selects it for this kind)."""
        t = row[1]
        self.silence.update(t, None)
        self._offline = None
        out.append(normal(_T.DEVICE_SILENT, t))
        out.append(normal(_T.INVALID_DATA, t))

    def status(self, t: float, online: bool, reason: str, out: list[Finding]) -> None:
        if online:
            self._offline = None
            out.append(normal(_T.DEVICE_SILENT, t))
            return
        self._offline = t
        out.append(
            Finding(
                _T.DEVICE_SILENT,
                t,
                detector="DeviceStatus",
                metric="online",
                value=0.0,
                unit="",
                extra={"reason": reason, "last_seen": _iso_or_none(self.silence.last_seen)},
            )
        )

    def dead_letter(self, t: float, reason: str, detail: str, out: list[Finding]) -> None:
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

    def tick(self, now: float, out: list[Finding]) -> None:
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


class TrafficLightMonitor(Monitor):
    """Row: (device_id, t, phase, phase_elapsed, lamp_fault, controller_mode)."""

    __slots__ = ("dark", "flashing", "lamp", "stuck")

    def __init__(self, device: Device, config: CityConfig) -> None:
        super().__init__(device, config)
        self.stuck = StuckPhase(max_phase_s=config.max_phase_s)
        self.flashing = SignalDark(grace_s=config.dark_grace_s)
        self.dark = SignalDark(grace_s=config.dark_grace_s)
        self.lamp = LampFault(min_reports=config.lamp_reports)

    def reading(self, row: tuple[Any, ...], out: list[Finding]) -> None:
        super().reading(row, out)
        t, phase, mode = row[1], row[2], row[5]
        self._judge(t, self.stuck.update(t, phase), out)
        fl = self.flashing.update(t, phase if phase == "flashing_yellow" else "red")
        dk = self.dark.update(t, phase if phase == "off" else "red")
        self._dark(t, fl, self.flashing, _T.SIGNAL_FLASHING, "flashing_yellow", mode, out)
        self._dark(t, dk, self.dark, _T.SIGNAL_DARK, "off", mode, out)
        lamp = row[4]
        if lamp is not None:
            if self.lamp.update(t, bool(lamp)) > 0.0:
                out.append(
                    Finding(
                        _T.LAMP_FAULT,
                        t,
                        detector="LampFault",
                        metric="lamp_fault",
                        value=float(self.lamp._run),
                        limit=float(self.lamp.min_reports),
                        extra={"reports": self.lamp._run},
                    )
                )
            elif not lamp:
                out.append(normal(_T.LAMP_FAULT, t))

    def _judge(self, t: float, score: float, out: list[Finding]) -> None:
        if score > 0.0:
            since = self.stuck._since
            out.append(
                Finding(
                    _T.STUCK_PHASE,
                    t,
                    detector="StuckPhase",
                    metric="phase_duration",
                    value=round(t - since, 1),
                    limit=self.stuck.max_phase_s,
                    unit="s",
                    since=since,
                    extra={"phase": self.stuck._phase},
                )
            )
        else:
            out.append(normal(_T.STUCK_PHASE, t))

    def _dark(
        self,
        t: float,
        score: float,
        det: SignalDark,
        itype: IncidentType,
        phase: str,
        mode: str | None,
        out: list[Finding],
    ) -> None:
        if score > 0.0:
            since = det._since if det._since is not None else t
            out.append(
                Finding(
                    itype,
                    t,
                    detector="SignalDark",
                    metric="phase",
                    value=round(t - since, 1),
                    limit=det.grace_s,
                    unit="s",
                    since=since,
                    extra={"phase": phase, "controller_mode": mode},
                )
            )
        elif det._since is None:
            out.append(normal(itype, t))


class _Lane:
    __slots__ = ("collapse", "consistency", "forest", "jam", "repeats", "spike")

    def __init__(self, config: CityConfig, lane: int) -> None:
        self.consistency = CameraConsistency()
        self.repeats = Repeats(n=config.frozen_repeats)
        self.collapse = Collapse(expected=config.collapse_expected)
        self.jam = Jam(
            speed=config.jam_speed_kmh, occupancy=config.jam_occupancy, readings=config.jam_readings
        )
        self.spike = CountSpike(z_min=config.spike_z, min_excess=config.spike_min_excess)
        self.forest: Detector[tuple[float, float, float]] | None = None
        if config.multivariate == "hst":
            from detectors._multivariate import CameraForest

            self.forest = CameraForest(seed=config.seed * 1000 + lane)
        elif config.multivariate == "iforest":
            from detectors._multivariate import CameraIsolationForest

            self.forest = CameraIsolationForest(seed=config.seed * 1000 + lane)


class CameraMonitor(Monitor):
    """Row: (device_id, t, lane_id, intensity, speed, occupancy, heavy_share)."""

    __slots__ = ("config", "lanes")

    def __init__(self, device: Device, config: CityConfig) -> None:
        super().__init__(device, config)
        self.config = config
        self.lanes: dict[int, _Lane] = {}

    def reading(self, row: tuple[Any, ...], out: list[Finding]) -> None:
        super().reading(row, out)
        _, t, lane_id, intensity, speed, occ, heavy = row
        lane = self.lanes.get(lane_id)
        if lane is None:
            lane = self.lanes[lane_id] = _Lane(self.config, lane_id)
        flow = NAN if intensity is None else float(intensity)
        v = NAN if speed is None else float(speed)
        o = NAN if occ is None else float(occ)
        where = {"lane_id": lane_id}
        if lane.consistency.update(t, (flow, v, o)) > 0.0:
            out.append(
                Finding(
                    _T.INVALID_DATA,
                    t,
                    detector="CameraConsistency",
                    metric="camera_report",
                    extra={
                        **where,
                        "reason": "inconsistent",
                        "detail": f"intensity={flow:g} speed={v:g} occupancy={o:g}",
                    },
                )
            )
        h = NAN if heavy is None else float(heavy)
        if lane.repeats.update(t, (flow, v, o, h)) > 0.0:
            since = lane.repeats.since
            out.append(
                Finding(
                    _T.FROZEN_VALUES,
                    t,
                    detector="Repeats",
                    metric="camera_report",
                    value=round(t - since, 1),
                    unit="s",
                    since=since,
                    extra={**where, "repeats": lane.repeats.run},
                )
            )
        else:
            out.append(normal(_T.FROZEN_VALUES, t))
        level = lane.collapse.level
        if lane.collapse.update(t, flow) > 0.0:
            out.append(
                Finding(
                    _T.CAMERA_OBSTRUCTED,
                    t,
                    detector="Collapse",
                    metric="intensity",
                    value=0.0,
                    limit=round(level, 2),
                    unit="vehicles",
                    extra={**where, "expected_per_interval": round(level, 2)},
                )
            )
        elif flow > 0:
            out.append(normal(_T.CAMERA_OBSTRUCTED, t))
        if lane.jam.update(t, (v, o)) > 0.0:
            out.append(
                Finding(
                    _T.CONGESTION,
                    t,
                    detector="Jam",
                    metric="average_vehicle_speed",
                    value=v,
                    limit=lane.jam.speed,
                    unit="km/h",
                    since=lane.jam.since,
                    extra={**where, "occupancy": o},
                )
            )
        else:
            out.append(normal(_T.CONGESTION, t))
        expected = lane.spike.mean
        s = lane.spike.update(t, flow)
        if s > 0.0:
            out.append(
                Finding(
                    _T.ANOMALY,
                    t,
                    detector="CountSpike",
                    metric="intensity",
                    score=s,
                    threshold=0.5,
                    value=flow,
                    unit="vehicles",
                    extra={**where, "expected": round(expected, 2)},
                )
            )
        elif lane.forest is not None:
            fs = lane.forest.update(t, (flow, v, o))
            if fs >= self.config.multivariate_threshold:
                out.append(
                    Finding(
                        _T.ANOMALY,
                        t,
                        detector=type(lane.forest).__name__,
                        metric="flow_speed_occupancy",
                        score=fs,
                        threshold=self.config.multivariate_threshold,
                        extra=where,
                    )
                )
            else:
                out.append(normal(_T.ANOMALY, t))
        else:
            out.append(normal(_T.ANOMALY, t))


class ParkingMonitor(Monitor):
    """Row: (device_id, t, total, occupied, out_of_service)."""

    __slots__ = ("consistency", "full", "stuck")

    def __init__(self, device: Device, config: CityConfig) -> None:
        super().__init__(device, config)
        self.consistency = ParkingConsistency()
        # Fed only while strictly between empty and full: a count held at a bound is real.
        self.stuck = ParkingStuck(
            min_duration_s=config.parking_stuck_s,
            min_count=max(3, int(config.parking_stuck_s / self.interval * 0.8)),
        )
        # Fed (occupied, usable): full means no usable spot free.
        self.full = FullForLong(full_ratio=1.0, lasts_at_least_s=config.parking_full_s)

    def reading(self, row: tuple[Any, ...], out: list[Finding]) -> None:
        super().reading(row, out)
        _, t, total, occupied, oos = row
        if total is None or occupied is None:
            return
        tot, occ = float(total), float(occupied)
        usable = tot - float(oos or 0)
        if self.consistency.update(t, (occ, tot)) > 0.0:
            out.append(
                Finding(
                    _T.INVALID_DATA,
                    t,
                    detector="ParkingConsistency",
                    metric="occupied_spot_number",
                    value=occ,
                    limit=tot,
                    extra={"reason": "inconsistent", "detail": f"{occ:g} of {tot:g} occupied"},
                )
            )
        stuck = 0.0
        if 0.0 < occ < usable:
            stuck = self.stuck.update(t, occ)
        else:
            self.stuck.reset()
        if stuck > 0.0:
            out.append(
                Finding(
                    _T.PARKING_STUCK,
                    t,
                    detector="ParkingStuck",
                    metric="occupied_spot_number",
                    value=occ,
                    unit="spots",
                    since=self.stuck.since,
                    extra={"unchanged_s": round(t - self.stuck.since, 1)},
                )
            )
        else:
            out.append(normal(_T.PARKING_STUCK, t))
        if self.full.update(t, (occ, usable)) > 0.0:
            out.append(
                Finding(
                    _T.PARKING_FULL,
                    t,
                    detector="FullForLong",
                    metric="occupied_spot_number",
                    value=occ,
                    limit=usable,
                    unit="spots",
                    since=self.full._since,
                    extra={"total": tot},
                )
            )
        elif self.full._since is None:
            out.append(normal(_T.PARKING_FULL, t))


ECOLOGY_FIELDS = ("pm25", "pm10", "no2", "so2", "co", "o3")


class EcologyMonitor(Monitor):
    """Row: (device_id, t, pm25, pm10, no2, so2, co, o3)."""

    __slots__ = ("air", "drift", "spikes")

    def __init__(self, device: Device, config: CityConfig) -> None:
        super().__init__(device, config)
        self.air = {
            p: air_quality_rule(p, lasts_at_least_s=config.air_lasts_s) for p in ECOLOGY_FIELDS
        }
        self.drift = PairDrift(h=config.drift_h)
        self.spikes = {p: LogSpike(z_min=config.log_spike_z) for p in ("pm25", "pm10", "no2")}

    def reading(self, row: tuple[Any, ...], out: list[Finding]) -> None:
        super().reading(row, out)
        t = row[1]
        values = dict(zip(ECOLOGY_FIELDS, row[2:8], strict=True))
        worst: Finding | None = None
        worst_ratio = 0.0
        exceeded = False
        for p, rule in self.air.items():
            x = values[p]
            if x is None:
                continue
            scores = rule.explain(t, float(x))
            lim = AIR_LIMITS[p]
            for averaging, s in scores.items():
                if s <= 0.0:
                    continue
                member = rule.detectors[averaging]
                exceeded = exceeded or averaging == "max_single"
                assert isinstance(member, LimitRule)
                avg = member.average / lim.unit_factor
                limit = member.limit / lim.unit_factor
                ratio = avg / limit
                if ratio > worst_ratio:
                    worst_ratio = ratio
                    worst = Finding(
                        _T.AIR_QUALITY_EXCEEDANCE,
                        t,
                        detector="air_quality_rule",
                        metric=p,
                        value=round(avg, 4),
                        limit=limit,
                        unit="mg/m³",
                        extra={
                            "averaging": averaging,
                            "averaging_s": member.averaging_s,
                            "standard": "СанПиН 1.2.3685-21",
                            "pollutant": p,
                        },
                    )
        out.append(worst if worst is not None else normal(_T.AIR_QUALITY_EXCEEDANCE, t))
        spiked = False
        for p, det in self.spikes.items():
            x = values[p]
            if x is None:
                continue
            before = det.mean
            s = det.update(t, float(x))
            if s > 0.0 and not exceeded:  # an exceedance is the more specific finding
                spiked = True
                out.append(
                    Finding(
                        _T.ANOMALY,
                        t,
                        detector="LogSpike",
                        metric=p,
                        score=s,
                        value=float(x),
                        unit="µg/m³",
                        extra={
                            "expected": round(10.0**before, 2),
                            "z": round(det.z(math.log10(float(x))), 1),
                        },
                    )
                )
        if not spiked:
            out.append(normal(_T.ANOMALY, t))
        pm25, pm10 = values["pm25"], values["pm10"]
        if pm25 is None or pm10 is None or exceeded or spiked:
            return  # an exceedance or a jump breaks the PM2.5/PM10 relation for real
        if self.drift.update(t, (float(pm25), float(pm10))) > 0.0:
            offset = float(pm25) - self.drift.predict(float(pm10))
            out.append(
                Finding(
                    _T.SENSOR_DRIFT,
                    t,
                    detector="PairDrift",
                    metric="pm25",
                    value=float(pm25),
                    unit="µg/m³",
                    extra={"reference": "pm10", "offset": round(offset, 2)},
                )
            )
        else:
            out.append(normal(_T.SENSOR_DRIFT, t))


MONITORS: dict[DeviceKind, Callable[[Device, CityConfig], Monitor]] = {
    DeviceKind.TRAFFIC_LIGHT: TrafficLightMonitor,
    DeviceKind.CAMERA: CameraMonitor,
    DeviceKind.PARKING: ParkingMonitor,
    DeviceKind.ECOLOGY: EcologyMonitor,
}


def monitor_for(device: Device, config: CityConfig) -> Monitor:
    return MONITORS[device.kind](device, config)
