"""Faults to inject: types, a scenario file loader, a random mode, the ground-truth file.

Fault sizes.  Random mode draws every fault's duration, and its magnitude where it has
one, uniformly from the ranges in ``_SPECS``; a scenario entry gives them or takes the
default (the duration range's low end, the magnitude's typical value).  ``severity``
scales every magnitude (1 is the documented range; 0.5 halves how far a fault takes a
reading from normal) and is written to the ground truth with the drawn values, in each
fault's ``params``.  Explicit values in a scenario file are taken as given.  The
reasoning, per type (durations first, then magnitudes):

- stuck_phase 20 min–2 h, flashing_yellow 30 min–3 h, power_loss 20 min–2 h,
  camera_offline 30 min–3 h: a controller or camera fails until a crew comes; a city's
  emergency response to a dark or stuck signal is within an hour or two, longer at
  night.  No magnitude: a phase is stuck or not, a device is heard or not.
- lamp_failure 1–6 h: a burnt-out lamp waits for the next maintenance round.
- camera_frozen 1–4 h, camera_obstructed 2–4 h: a hung video analytics process or
  snow, dirt or a sign over the lens, until noticed.  An obstruction blinds the
  counter (it sees nothing, so reports no vehicles); a partly covered lens that still
  counts is a drift of counts, not an obstruction.
- congestion 45 min–2 h, spreading upstream one hop per ``spread`` (10 min): a crash or
  roadworks queue.  No magnitude: a weaker jam is not a jam (level of service F, speed
  under ~13 km/h at high occupancy, is what defines it).
- parking_stuck 3–8 h (the count frozen at its last value), parking_full 3–6 h (no
  spot free but for turnover, see the simulator's parking model): a hung sensor gateway
  until restarted; an event or a market day.
- air_quality_exceedance 3–6 h at 1.1–2.5 × ПДК м.р. (severity scales the excess over
  the limit, so every severity is still an exceedance): winter inversions and traffic
  peaks in Russian cities give hours at one to a few times the maximum single limit.
- sensor_drift 8–24 h at 0.5–2.5 µg/m³ per hour: a failing optical PM chamber
  (condensation, a fouled fan or inlet) or an electrochemical cell losing its zero;
  an ageing cell drifts far slower, but that is calibration, not a fault to alarm on.
- spike, one reading, ×3–×12 (severity scales the excess over ×1): a camera flushing
  buffered counts or double counting, an insect or water droplet in a PM sensor's beam.
- malformed_payload 10 min–1 h, wrong_units 30 min–2 h: a firmware update gone wrong
  until rolled back.  No magnitude: a payload is readable or not.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from citypulse import AIR_LIMITS, Device, DeviceKind, parse_duration
from simulator._city import APPROACHES, City, Intervals
from simulator._errors import ScenarioError
from simulator._signals import local_hour, poisson

_TL, _CAM, _PK, _ECO = (
    DeviceKind.TRAFFIC_LIGHT,
    DeviceKind.CAMERA,
    DeviceKind.PARKING,
    DeviceKind.ECOLOGY,
)


class FaultType(enum.StrEnum):
    """What goes wrong; :attr:`incident_type` is what a detector should open for it."""

    STUCK_PHASE = "stuck_phase"
    FLASHING_YELLOW = "flashing_yellow"
    LAMP_FAILURE = "lamp_failure"
    POWER_LOSS = "power_loss"
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_FROZEN = "camera_frozen"
    CAMERA_OBSTRUCTED = "camera_obstructed"
    CONGESTION = "congestion"
    PARKING_STUCK = "parking_stuck"
    PARKING_FULL = "parking_full"
    AIR_QUALITY_EXCEEDANCE = "air_quality_exceedance"
    SENSOR_DRIFT = "sensor_drift"
    SPIKE = "spike"
    MALFORMED_PAYLOAD = "malformed_payload"
    WRONG_UNITS = "wrong_units"

    @property
    def incident_type(self) -> str:
        return _SPECS[self].incident

    @property
    def kinds(self) -> tuple[DeviceKind, ...]:
        return _SPECS[self].kinds


@dataclass(frozen=True, slots=True)
class _Size:
    """A magnitude's documented range (random mode draws from it) and its typical value.

    ``excess``: severity scales how far the value lies above 1 (a factor), not the value.
    """

    low: float
    high: float
    typical: float
    excess: bool = False

    def scaled(self, value: float, severity: float) -> float:
        return 1.0 + (value - 1.0) * severity if self.excess else value * severity


@dataclass(frozen=True, slots=True)
class _Spec:
    kinds: tuple[DeviceKind, ...]
    incident: str
    duration_s: tuple[float, float]  # random mode: uniform between these
    params: Mapping[str, str | float]  # accepted parameters and their defaults
    sizes: Mapping[str, _Size] = field(default_factory=dict)  # magnitudes among params


_H, _M = 3600.0, 60.0
_SPECS: dict[FaultType, _Spec] = {
    FaultType.STUCK_PHASE: _Spec((_TL,), "stuck_phase", (20 * _M, 2 * _H), {}),
    FaultType.FLASHING_YELLOW: _Spec((_TL,), "signal_flashing", (30 * _M, 3 * _H), {}),
    FaultType.LAMP_FAILURE: _Spec((_TL,), "lamp_fault", (1 * _H, 6 * _H), {}),
    FaultType.POWER_LOSS: _Spec((_TL, _CAM, _PK, _ECO), "device_offline", (20 * _M, 2 * _H), {}),
    FaultType.CAMERA_OFFLINE: _Spec((_CAM,), "device_offline", (30 * _M, 3 * _H), {}),
    FaultType.CAMERA_FROZEN: _Spec((_CAM,), "camera_frozen", (1 * _H, 4 * _H), {}),
    FaultType.CAMERA_OBSTRUCTED: _Spec((_CAM,), "camera_obstructed", (2 * _H, 4 * _H), {}),
    FaultType.CONGESTION: _Spec(
        (_CAM,), "congestion", (45 * _M, 2 * _H), {"spread": 600.0, "hops": 2.0}
    ),
    FaultType.PARKING_STUCK: _Spec((_PK,), "parking_stuck", (3 * _H, 8 * _H), {}),
    FaultType.PARKING_FULL: _Spec((_PK,), "parking_full", (3 * _H, 6 * _H), {}),
    FaultType.AIR_QUALITY_EXCEEDANCE: _Spec(
        (_ECO,),
        "air_quality_exceedance",
        (3 * _H, 6 * _H),
        {"pollutant": "pm25", "level": 0.0},
        # "level" 0 means: this many times the pollutant's ПДК м.р.
        {"level": _Size(1.1, 2.5, 1.3, excess=True)},
    ),
    FaultType.SENSOR_DRIFT: _Spec(
        (_ECO,),
        "sensor_drift",
        (8 * _H, 24 * _H),
        {"field": "pm25", "rate_per_hour": 1.5},
        {"rate_per_hour": _Size(0.5, 2.5, 1.5)},
    ),
    FaultType.SPIKE: _Spec(
        (_CAM, _ECO),
        "spike",
        (0.0, 0.0),
        {"field": "", "factor": 8.0},
        {"factor": _Size(3.0, 12.0, 8.0, excess=True)},
    ),
    FaultType.MALFORMED_PAYLOAD: _Spec(
        (_TL, _CAM, _PK, _ECO), "invalid_payload", (10 * _M, 1 * _H), {}
    ),
    FaultType.WRONG_UNITS: _Spec((_TL, _CAM, _PK, _ECO), "invalid_payload", (30 * _M, 2 * _H), {}),
}
_RUSH_HOURS = ((7.0, 10.0), (16.5, 19.5))
# Faults that take over a device's whole behaviour: two cannot overlap on one device.
SEGMENT_FAULTS = frozenset(
    {
        FaultType.POWER_LOSS,
        FaultType.CAMERA_OFFLINE,
        FaultType.STUCK_PHASE,
        FaultType.FLASHING_YELLOW,
    }
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault, as written to the ground-truth file.

    ``onsets`` gives a later start for devices a fault reaches over time (congestion
    spreading upstream); every other device is affected from ``start`` to ``end``.
    """

    id: str
    type: FaultType
    devices: tuple[str, ...]
    start: datetime
    end: datetime
    params: Mapping[str, str | float] = field(default_factory=dict)
    onsets: Mapping[str, datetime] = field(default_factory=dict)
    severity: float = 1.0  # the scale its magnitudes were drawn at

    @property
    def incident_type(self) -> str:
        return self.type.incident_type

    def onset(self, device_id: str) -> datetime:
        return self.onsets.get(device_id, self.start)

    def ground_truth(self) -> dict[str, object]:
        """The JSON object written for this fault (one line of the ground-truth file)."""
        out: dict[str, object] = {
            "id": self.id,
            "type": self.type.value,
            "devices": list(self.devices),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "expected_incident_type": self.incident_type,
            "params": dict(self.params),
            "severity": self.severity,
        }
        if self.onsets:
            out["onsets"] = {k: v.isoformat() for k, v in self.onsets.items()}
        return out


def write_ground_truth(path: str | Path, faults: Iterable[Fault]) -> int:
    """Write one JSON object per fault, in start order; return how many."""
    ordered = sorted(faults, key=lambda f: (f.start, f.id))
    with Path(path).open("w", encoding="utf-8") as f:
        for fault in ordered:
            f.write(json.dumps(fault.ground_truth(), ensure_ascii=False) + "\n")
    return len(ordered)


def read_ground_truth(path: str | Path) -> list[dict[str, Any]]:
    """The ground-truth file's objects, as written."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# --- resolving specifications into faults --------------------------------------------------


class _Resolver:
    """Turns scenario entries into :class:`Fault` records against one city and run."""

    def __init__(
        self,
        city: City,
        *,
        start: datetime,
        end: datetime,
        intervals: Intervals,
        seed: int,
        severity: float = 1.0,
    ) -> None:
        if not (severity > 0.0 and severity < float("inf")):
            raise ScenarioError("severity", f"must be a positive number, got {severity!r}")
        self.severity = severity
        # Magnitudes draw from their own stream, so sizes do not move where faults fall.
        self.sizes = random.Random(f"fault-sizes:{seed}")
        self.city = city
        self.start = start
        self.end = end
        self.intervals = intervals
        self.devices = {d.id: d for d in city.devices(intervals)}
        self.rng = random.Random(f"faults:{seed}")
        self.busy: dict[str, list[tuple[datetime, datetime]]] = {}
        self.segments: dict[str, list[Fault]] = {}

    def eligible(self, ftype: FaultType) -> list[Device]:
        return [d for d in self.devices.values() if d.kind in ftype.kinds]

    def free(self, devices: Iterable[str], start: datetime, end: datetime) -> bool:
        return all(end <= s or start >= e for d in devices for s, e in self.busy.get(d, ()))

    def claim(self, fault: Fault, where: str = "") -> Fault:
        if fault.end <= self.start or fault.start >= self.end:
            raise ScenarioError(where or fault.id, "lies outside the simulated period")
        for d in fault.devices:
            self.busy.setdefault(d, []).append((fault.start, fault.end))
            if fault.type not in SEGMENT_FAULTS:
                continue
            for other in self.segments.get(d, ()):
                if fault.start < other.end and other.start < fault.end:
                    raise ScenarioError(
                        where or fault.id,
                        f"overlaps {other.id} ({other.type.value}) on {d}; "
                        "a device can be offline, stuck or flashing only once at a time",
                    )
            self.segments.setdefault(d, []).append(fault)
        return fault

    def build(
        self,
        fid: str,
        ftype: FaultType,
        devices: Sequence[str],
        start: datetime,
        duration: timedelta,
        params: Mapping[str, str | float],
        *,
        intersection: str | None = None,
        where: str,
        draw: bool = False,
    ) -> Fault:
        """One fault; with ``draw`` (random mode) magnitudes not given come from their
        documented range, else from their typical value; either way scaled by severity."""
        spec = _SPECS[ftype]
        full: dict[str, str | float] = dict(spec.params)
        for key, value in params.items():
            if key not in spec.params:
                raise ScenarioError(where, f"{ftype.value} takes no parameter {key!r}")
            default = spec.params[key]
            if isinstance(default, float):
                try:
                    full[key] = (
                        float(parse_duration(value).total_seconds())
                        if key == "spread"
                        else float(value)
                    )
                except (TypeError, ValueError) as exc:
                    raise ScenarioError(where, f"{key}: expected a number, got {value!r}") from exc
            else:
                full[key] = str(value)
        scaled: dict[str, float] = {}
        for key, size in spec.sizes.items():
            if not (key in params and full[key]):
                value = self.sizes.uniform(size.low, size.high) if draw else size.typical
                scaled[key] = size.scaled(value, self.severity)
                full[key] = round(scaled[key], 3)
        for device_id in devices:
            device = self.devices.get(device_id)
            if device is None:
                raise ScenarioError(where, f"no device {device_id!r} in this city")
            if device.kind not in spec.kinds:
                kinds = ", ".join(k.value for k in spec.kinds)
                raise ScenarioError(where, f"{ftype.value} applies to {kinds}, not {device_id}")
        if ftype is FaultType.AIR_QUALITY_EXCEEDANCE:
            pollutant = str(full["pollutant"])
            if pollutant not in AIR_LIMITS:
                raise ScenarioError(where, f"pollutant must be one of {sorted(AIR_LIMITS)}")
            if "level" in scaled:  # not given: a multiple of the pollutant's ПДК м.р.
                full["level"] = round(AIR_LIMITS[pollutant].max_single_in_unit * scaled["level"], 1)
        onsets: dict[str, datetime] = {}
        all_devices = list(devices)
        if ftype is FaultType.CONGESTION:
            if intersection is None:
                intersection = self.devices[devices[0]].intersection
            assert intersection is not None
            full["intersection"] = intersection
            all_devices, delays = self.upstream(intersection, int(full["hops"]))
            onsets = {
                d: start + timedelta(seconds=k * float(full["spread"]))
                for d, k in delays.items()
                if k
            }
        if ftype is FaultType.SPIKE:
            kind = self.devices[all_devices[0]].kind
            duration = timedelta(seconds=self.intervals.of(kind))
            if not full["field"]:
                full["field"] = "intensity" if kind is _CAM else "pm25"
        end = start + duration
        if end <= start:
            raise ScenarioError(where, "duration must be positive")
        return Fault(fid, ftype, tuple(all_devices), start, end, full, onsets, self.severity)

    def upstream(self, intersection: str, hops: int) -> tuple[list[str], dict[str, int]]:
        """Cameras a queue from ``intersection`` reaches, with the hop at which each does."""
        try:
            origin = self.city.intersection(intersection)
        except KeyError:
            raise ScenarioError("congestion", f"no intersection {intersection!r}") from None
        cells = {(i.row, i.col): i for i in self.city.intersections}
        delays: dict[str, int] = dict.fromkeys(origin.camera_ids, 0)
        steps = {"n": (1, 0), "s": (-1, 0), "e": (0, 1), "w": (0, -1)}
        for approach in APPROACHES:
            dr, dc = steps[approach]
            for k in range(1, hops + 1):
                j = cells.get((origin.row + k * dr, origin.col + k * dc))
                # Traffic heading for the origin enters j from the side facing away from it.
                if j is None or approach not in j.lanes:
                    break
                delays[j.camera_id(approach)] = k
        return list(delays), delays


def _parse_time(value: object, start: datetime, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise ScenarioError(where, f"start: not an ISO-8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        raise ScenarioError(where, "start needs a UTC offset (e.g. +03:00)")
    return moment


def faults_from_spec(
    spec: Mapping[str, Any],
    city: City,
    *,
    start: datetime,
    end: datetime,
    seed: int = 0,
    intervals: Intervals | None = None,
    severity: float = 1.0,
) -> list[Fault]:
    """Faults described by a parsed scenario document (see :func:`load_scenario`);
    ``severity`` scales the magnitudes the document does not give (module docstring)."""
    iv = intervals or city.intervals
    resolver = _Resolver(city, start=start, end=end, intervals=iv, seed=seed, severity=severity)
    unknown = set(spec) - {"faults", "random"}
    if unknown:
        raise ScenarioError("top level", f"unknown keys {sorted(unknown)}")
    entries = spec.get("faults") or []
    if not isinstance(entries, list):
        raise ScenarioError("faults", "must be a list")
    out: list[Fault] = []
    common = {"type", "device", "devices", "intersection", "at", "start", "duration", "id"}
    for n, entry in enumerate(entries, start=1):
        where = f"faults[{n}]"
        if not isinstance(entry, Mapping):
            raise ScenarioError(where, "must be a mapping")
        try:
            ftype = FaultType(str(entry.get("type")))
        except ValueError:
            names = ", ".join(t.value for t in FaultType)
            raise ScenarioError(where, f"type must be one of: {names}") from None
        if "at" in entry and "start" in entry:
            raise ScenarioError(where, "give either at (offset) or start (time), not both")
        try:
            moment = (
                _parse_time(entry["start"], start, where)
                if "start" in entry
                else start + parse_duration(entry.get("at", 0))
            )
            duration = parse_duration(entry.get("duration", _SPECS[ftype].duration_s[0] or 60))
        except ValueError as exc:
            raise ScenarioError(where, str(exc)) from exc
        intersection = entry.get("intersection")
        if "devices" in entry:
            devices = [str(d) for d in entry["devices"]]
        elif "device" in entry:
            devices = [str(entry["device"])]
        elif intersection is not None:
            try:
                crossing = resolver.city.intersection(str(intersection))
            except KeyError:
                raise ScenarioError(where, f"no intersection {intersection!r}") from None
            if not (_TL in ftype.kinds or crossing.camera_ids):
                raise ScenarioError(where, f"intersection {intersection!r} has no camera")
            devices = [crossing.controller_id] if _TL in ftype.kinds else [crossing.camera_ids[0]]
        else:
            devices = [resolver.rng.choice(resolver.eligible(ftype)).id]
        params = {k: v for k, v in entry.items() if k not in common}
        fid = str(entry.get("id", f"f{n:04d}"))
        fault = resolver.build(
            fid,
            ftype,
            devices,
            moment,
            duration,
            params,
            intersection=None if intersection is None else str(intersection),
            where=where,
        )
        out.append(resolver.claim(fault, where))
    rnd = spec.get("random")
    if rnd:
        if not isinstance(rnd, Mapping):
            raise ScenarioError("random", "must be a mapping")
        rates = _rates(rnd)
        out.extend(_random(resolver, rates, seed=int(rnd.get("seed", seed)), prefix="r"))
    return out


def _rates(rnd: Mapping[str, Any]) -> dict[FaultType, float]:
    unknown = set(rnd) - {"rate", "rates", "seed"}
    if unknown:
        raise ScenarioError("random", f"unknown keys {sorted(unknown)}")
    rates: dict[FaultType, float] = {}
    if "rate" in rnd:
        each = float(rnd["rate"]) / len(FaultType)
        rates = dict.fromkeys(FaultType, each)
    for name, value in (rnd.get("rates") or {}).items():
        try:
            rates[FaultType(name)] = float(value)
        except ValueError:
            raise ScenarioError("random.rates", f"unknown fault type {name!r}") from None
    return rates


def load_scenario(
    path: str | Path,
    city: City,
    *,
    start: datetime,
    end: datetime,
    seed: int = 0,
    intervals: Intervals | None = None,
    severity: float = 1.0,
) -> list[Fault]:
    """Read a YAML or JSON scenario file into faults for this city and run."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        if str(path).endswith(".json"):
            spec = json.loads(text)
        else:
            import yaml

            spec = yaml.safe_load(text)
    except (ValueError, ImportError) as exc:
        raise ScenarioError(str(path), f"cannot parse: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError has no common base with ValueError
        raise ScenarioError(str(path), f"cannot parse: {exc}") from exc
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise ScenarioError(str(path), "must be a mapping with faults and/or random")
    return faults_from_spec(
        spec, city, start=start, end=end, seed=seed, intervals=intervals, severity=severity
    )


def random_faults(
    city: City,
    *,
    start: datetime,
    end: datetime,
    rates: Mapping[FaultType, float] | float,
    seed: int = 0,
    intervals: Intervals | None = None,
    id_prefix: str = "r",
    severity: float = 1.0,
) -> list[Fault]:
    """Faults drawn at ``rates`` (expected count per simulated day, per type or in total).

    No device gets two faults at once, so each fault's effect in the data is its own.
    Durations and magnitudes are drawn from their documented ranges, the magnitudes
    scaled by ``severity`` (see the module docstring).
    """
    iv = intervals or city.intervals
    resolver = _Resolver(city, start=start, end=end, intervals=iv, seed=seed, severity=severity)
    if not isinstance(rates, Mapping):
        rates = dict.fromkeys(FaultType, float(rates) / len(FaultType))
    return _random(resolver, rates, seed=seed, prefix=id_prefix)


def _random(
    resolver: _Resolver, rates: Mapping[FaultType, float], *, seed: int, prefix: str
) -> list[Fault]:
    rng = random.Random(f"random-faults:{seed}")
    span = (resolver.end - resolver.start).total_seconds()
    days = span / 86400.0
    out: list[Fault] = []
    n = 1
    for ftype in FaultType:  # fixed order keeps the draw reproducible
        count = poisson(rng, rates.get(ftype, 0.0) * days, normal_above=30.0)
        lo, hi = _SPECS[ftype].duration_s
        candidates = resolver.eligible(ftype)
        for _ in range(count if candidates else 0):  # a city may lack a kind
            for _attempt in range(30):
                duration = min(rng.uniform(lo, hi) if hi else 60.0, span * 0.5)
                offset = rng.uniform(0.0, max(0.0, span - duration))
                moment = resolver.start + timedelta(seconds=round(offset))
                if ftype in (FaultType.CAMERA_OBSTRUCTED, FaultType.CONGESTION):
                    moment = _shift_to_rush(moment, rng)
                    if (
                        moment < resolver.start
                        or moment + timedelta(seconds=duration) > resolver.end
                    ):
                        continue
                device = rng.choice(candidates)
                try:
                    fault = resolver.build(
                        f"{prefix}{n:04d}",
                        ftype,
                        [device.id],
                        moment,
                        timedelta(seconds=round(duration)),
                        {},
                        where=f"random {ftype.value}",
                        draw=True,
                    )
                except ScenarioError:
                    continue
                if resolver.free(fault.devices, fault.start, fault.end):
                    out.append(resolver.claim(fault))
                    n += 1
                    break
    return out


def _shift_to_rush(moment: datetime, rng: random.Random) -> datetime:
    """Move ``moment`` to the start of a rush hour on the same local day."""
    t = moment.timestamp()
    lo, hi = rng.choice(_RUSH_HOURS)
    target = rng.uniform(lo, hi - 1.0)
    return moment + timedelta(hours=target - local_hour(t))
