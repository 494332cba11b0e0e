"""Device models: how each kind of field device behaves, and how faults change it.

No I/O and no wall clock.  Each device draws from its own ``random.Random`` seeded with
``(seed, device_id)``, so a run is reproducible and one device's stream does not change
when the city around it grows.  Messages carry the topic and the exact payload bytes a
field device would publish (see ``docs/wire-contract.md``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import attrgetter

import numpy as np
import orjson

from citypulse import Device, DeviceKind, Phase
from simulator._city import DistrictProfile, Intersection, topic
from simulator._faults import SEGMENT_FAULTS, Fault, FaultType
from simulator._message import WILL_PAYLOAD, Message
from simulator._signals import (
    cycle_length,
    heavy_share,
    local_hour,
    occupancy_from_load,
    parking_fill,
    poisson,
    speed_from_occupancy,
    split,
    traffic_demand,
    traffic_index,
    weather,
)

MSK = timezone(timedelta(hours=3), "MSK")
_SEGMENT_FAULTS = SEGMENT_FAULTS
_OFFLINE = frozenset({FaultType.POWER_LOSS, FaultType.CAMERA_OFFLINE})
_CYCLE = (Phase.GREEN, Phase.YELLOW, Phase.RED, Phase.RED_YELLOW)
_RED = 2


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, MSK).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class FaultWindow:
    fault: Fault
    start: float  # this device's onset
    end: float

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


class _Normals:
    """Normal deviates drawn in blocks with numpy: ``random.gauss`` dominated the profile."""

    __slots__ = ("buf", "gen", "i")

    def __init__(self, key: str) -> None:
        seed = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
        self.gen = np.random.default_rng(seed)
        self.buf: list[float] = []
        self.i = 0

    def gauss(self, mu: float, sigma: float) -> float:
        i = self.i
        if i >= len(self.buf):
            self.buf = self.gen.standard_normal(512).tolist()
            i = 0
        self.i = i + 1
        return mu + sigma * self.buf[i]


class _Device:
    """Shared plumbing: topics, status messages, fault windows, payload corruption."""

    def __init__(self, device: Device, root: str, seed: int, faults: Sequence[FaultWindow]) -> None:
        self.device = device
        self.rng = random.Random(f"{seed}:{device.id}")
        # Fault effects draw from their own stream, so the device's normal readings are
        # the same with and without faults (a faulty run differs only inside faults).
        self.fault_rng = random.Random(f"{seed}:{device.id}:faults")
        self.gauss = _Normals(f"{seed}:{device.id}:normal").gauss
        self.telemetry = topic(root, device, "telemetry")
        self.status = topic(root, device, "status")
        self.windows = sorted(faults, key=attrgetter("start"))
        self.segments = [w for w in self.windows if w.fault.type in _SEGMENT_FAULTS]
        self.flags = [w for w in self.windows if w.fault.type not in _SEGMENT_FAULTS]
        self.corruptions = 0

    def active(self, t: float) -> list[FaultWindow]:
        return [w for w in self.flags if w.start <= t < w.end] if self.flags else []

    def online(self, t: float) -> Message:
        payload = orjson.dumps({"online": True, "time": _iso(t)})
        return Message(t, self.status, payload, True, self.device.id)

    def will(self, t: float) -> Message:
        return Message(t, self.status, WILL_PAYLOAD, True, self.device.id, last_will=True)

    def send(self, t: float, body: object, active: list[FaultWindow]) -> Message:
        payload = orjson.dumps(body)
        valid = True
        for w in active:
            if w.fault.type is FaultType.MALFORMED_PAYLOAD:
                payload, valid = self._malformed(body, payload), False
            elif w.fault.type is FaultType.WRONG_UNITS:
                payload, valid = orjson.dumps(_wrong_units(self.device.kind, body)), False
        return Message(t, self.telemetry, payload, False, self.device.id, valid=valid)

    def _malformed(self, body: object, payload: bytes) -> bytes:
        self.corruptions += 1
        variant = self.corruptions % 4
        if variant == 1:
            return payload[: max(1, len(payload) // 2)]  # truncated in transit
        if variant == 2:
            return b"ERR 0x1F sensor bus timeout"
        first = body[0] if isinstance(body, list) else body
        assert isinstance(first, dict)
        if variant == 3:
            # A misspelt field name from a firmware update.
            return orjson.dumps({**first, "tmestamp": first.get("time")})
        # Russian-locale decimal comma in a number sent as a string.
        key = next((k for k, v in first.items() if isinstance(v, float)), "time")
        return orjson.dumps({**first, key: str(first.get(key)).replace(".", ",")})


def _wrong_units(kind: DeviceKind, body: object) -> object:
    """The same reading in the units a misconfigured device uses."""
    if isinstance(body, list):
        return [_wrong_units(kind, b) for b in body]
    assert isinstance(body, dict)
    out = dict(body)
    if kind is DeviceKind.CAMERA:
        out["occupancy"] = round(float(out.get("occupancy", 0.0)) * 100.0, 1)  # percent
        if "average_vehicle_speed" in out:
            out["average_vehicle_speed"] = round(out["average_vehicle_speed"] / 3.6, 1)  # m/s
    elif kind is DeviceKind.PARKING:
        total = max(1, int(out.get("total_spot_number", 1)))
        out["occupied_spot_number"] = round(out["occupied_spot_number"] / total, 3)  # share
    elif kind is DeviceKind.ECOLOGY:
        out["relative_humidity"] = round(float(out["relative_humidity"]) * 100.0, 1)
        out["co"] = round(float(out["co"]) * 1000.0, 1)  # µg/m³ instead of mg/m³
        out["temperature"] = round(float(out["temperature"]) + 273.15, 2)  # kelvin
    else:
        out["supply_voltage"] = round(float(out["supply_voltage"]) * 1000.0, 1)  # mV
    return out


_demand_cache: dict[int, tuple[float, float]] = {}


def _demand(t: float) -> tuple[float, float]:
    """(traffic demand, heavy-vehicle share) for the minute holding ``t``, memoised.

    Both are smooth over a minute and every camera asks for them once a minute.
    """
    minute = int(t // 60.0)
    hit = _demand_cache.get(minute)
    if hit is None:
        if len(_demand_cache) > 200_000:
            _demand_cache.clear()
        m = minute * 60.0 + 30.0
        hit = _demand_cache[minute] = (traffic_demand(m), heavy_share(m))
    return hit


# --- traffic-light controller -----------------------------------------------------------


class TrafficLightModel(_Device):
    def __init__(
        self,
        device: Device,
        root: str,
        seed: int,
        faults: Sequence[FaultWindow],
        *,
        heartbeat_s: float,
    ) -> None:
        super().__init__(device, root, seed, faults)
        self.heartbeat_s = heartbeat_s

    def reading(
        self, t: float, phase: Phase, since: float, cycle: int | None, mode: str = "fixed_time"
    ) -> Message:
        active = self.active(t)
        lamp = any(w.fault.type is FaultType.LAMP_FAILURE for w in active)
        body: dict[str, object] = {
            "time": _iso(t),
            "phase": phase.value,
            "phase_elapsed": round(t - since, 1),
        }
        if cycle is not None:
            body["cycle_length"] = cycle
        body["lamp_fault"] = lamp
        body["door_open"] = False
        body["supply_voltage"] = round(self.gauss(229.5, 1.8), 1)
        body["controller_mode"] = mode
        return self.send(t, body, active)

    def run(self, start: float, end: float) -> Iterator[Message]:
        def duration(index: int, cycle: int) -> int:
            s = split(cycle)
            return (s.green, s.yellow, s.red, s.red_yellow)[index]

        hb = self.heartbeat_s
        # A cycle is already under way when the simulation begins (coordination offset).
        ps = start - self.rng.uniform(0.0, cycle_length(start))
        cycle = cycle_length(ps)
        i = 0
        while ps + duration(i, cycle) <= start:
            ps += duration(i, cycle)
            i = (i + 1) % 4
            if i == 0:
                cycle = cycle_length(ps)
        segments = list(self.segments)
        last = start
        in_force = segments[0] if segments and segments[0].start <= start else None
        if in_force is None or in_force.fault.type not in _OFFLINE:
            yield self.online(start)  # a controller dead from the start never says hello
        if in_force is None:
            yield self.reading(start, _CYCLE[i], ps, cycle)
        while True:
            change = ps + duration(i, cycle)
            seg = segments[0] if segments else None
            seg_start = max(seg.start, start) if seg else math.inf
            limit = min(change, seg_start, end)
            while last + hb < limit:
                last += hb
                yield self.reading(last, _CYCLE[i], ps, cycle)
            if seg is not None and seg_start <= change and seg_start < end:
                segments.pop(0)
                kind = seg.fault.type
                s, e = seg_start, seg.end
                if kind in _OFFLINE:
                    yield self.will(s)
                    if e >= end:
                        return
                    yield self.online(e)
                elif kind is FaultType.STUCK_PHASE:
                    last = max(last, s)
                    while last + hb < min(e, end):
                        last += hb
                        yield self.reading(last, _CYCLE[i], ps, cycle)
                    if e >= end:
                        return
                    i = (i + 1) % 4
                    ps = e
                    cycle = cycle_length(e)
                    last = e
                    yield self.reading(e, _CYCLE[i], ps, cycle)
                    continue
                else:  # flashing yellow: the controller's fault mode
                    yield self.reading(s, Phase.FLASHING_YELLOW, s, None, "yellow_flash")
                    last = s
                    while last + hb < min(e, end):
                        last += hb
                        yield self.reading(last, Phase.FLASHING_YELLOW, s, None, "yellow_flash")
                    if e >= end:
                        return
                # Controllers restart into all-red before resuming the plan.
                i, ps, cycle, last = _RED, e, cycle_length(e), e
                yield self.reading(e, Phase.RED, e, cycle)
                continue
            if change >= end:
                return
            i = (i + 1) % 4
            ps = change
            if i == 0:
                cycle = cycle_length(ps)
            last = ps
            yield self.reading(ps, _CYCLE[i], ps, cycle)


# --- devices that report on a fixed interval -----------------------------------------------


class PeriodicModel(_Device):
    interval: float

    def body(self, t: float, active: list[FaultWindow]) -> object:
        raise NotImplementedError

    def run(self, start: float, end: float) -> Iterator[Message]:
        t = start + float(int(self.rng.uniform(0.0, self.interval)))
        offline = [w for w in self.segments if w.fault.type in _OFFLINE]
        if not (offline and offline[0].start <= start):
            yield self.online(start)  # a device dead from the start never says hello
        while t < end:
            if offline and t >= offline[0].start:
                w = offline.pop(0)
                yield self.will(max(w.start, start))
                while t < w.end:
                    self.skip(t)
                    t += self.interval
                if w.end < end:
                    yield self.online(w.end)
                continue
            active = self.active(t)
            yield self.send(t, self.body(t, active), active)
            t += self.interval

    def skip(self, t: float) -> None:
        """Advance hidden state through a silent tick (the world goes on while offline)."""


class CameraModel(PeriodicModel):
    def __init__(
        self,
        device: Device,
        root: str,
        seed: int,
        faults: Sequence[FaultWindow],
        *,
        crossing: Intersection,
        approach: str,
        interval: float,
    ) -> None:
        super().__init__(device, root, seed, faults)
        self.interval = interval
        self.lanes = crossing.lanes[approach]
        main = approach in ("e", "w")
        self.free_flow = 55.0 if main else 45.0
        self.capacity = (15.0 if main else 11.0) * interval / 60.0  # vehicles per lane
        self.weight = crossing.weight * (1.0 if main else 0.7)
        self.drift = 0.0
        self.frozen: tuple[Fault, object] | None = None

    def skip(self, t: float) -> None:
        self.drift = 0.92 * self.drift + self.gauss(0.0, 0.04)

    def body(self, t: float, active: list[FaultWindow]) -> object:
        self.skip(t)
        ms = round(t * 1000)
        lanes = self._lanes(t, ms, active)
        for w in active:
            if w.fault.type is FaultType.CAMERA_FROZEN:
                if self.frozen is None or self.frozen[0] is not w.fault:
                    self.frozen = (w.fault, lanes)
                frozen = self.frozen[1]
                assert isinstance(frozen, list)
                return [{**lane, "time": ms} for lane in frozen]
        return lanes

    def _lanes(self, t: float, ms: int, active: list[FaultWindow]) -> list[dict[str, object]]:
        rng = self.rng
        kinds = {w.fault.type: w for w in active}
        demand, heavy_base = _demand(t)
        load = min(1.2, demand * 0.9 * self.weight * math.exp(self.drift))
        lanes: list[dict[str, object]] = []
        for lane in range(1, self.lanes + 1):
            lane_load = load * (1.05 if lane == 1 else 0.9)
            intensity = poisson(rng, self.capacity * lane_load, normal_above=20.0)
            occupancy = occupancy_from_load(lane_load) + self.gauss(0.0, 0.012)
            occupancy = min(0.97, max(0.005, occupancy))
            free = self.free_flow + (3.0 if lane == 2 else 0.0)
            speed = speed_from_occupancy(occupancy, free) + self.gauss(0.0, 2.0)
            speed = min(free + 12.0, max(3.0, speed))
            share = min(0.5, max(0.0, heavy_base + self.gauss(0.0, 0.015)))
            if FaultType.CONGESTION in kinds:
                f = self.fault_rng
                intensity = poisson(f, self.capacity * f.uniform(0.2, 0.45), normal_above=20.0)
                occupancy = f.uniform(0.6, 0.88)
                speed = f.uniform(3.5, 12.0)
            elif FaultType.CAMERA_OBSTRUCTED in kinds:
                intensity, occupancy, speed = 0, 0.0, 0.0
            spike = kinds.get(FaultType.SPIKE)
            if spike is not None and lane == 1:
                factor = float(spike.fault.params.get("factor", 8.0))
                field = spike.fault.params.get("field", "intensity")
                if field == "average_vehicle_speed":
                    speed = min(250.0, speed * factor)
                else:
                    intensity = round(max(intensity, 3) * factor) + 10
            row: dict[str, object] = {"time": ms, "lane_id": lane, "intensity": intensity}
            if intensity > 0:
                row["average_vehicle_speed"] = round(speed, 1)
                row["occupancy"] = round(occupancy, 3)
                row["heavy_vehicle_share"] = round(share, 3)
            else:
                row["occupancy"] = round(occupancy, 3) if occupancy > 0.5 else 0.0
            row["congested"] = bool(occupancy > 0.45 or (intensity > 0 and speed < 15.0))
            lanes.append(row)
        return lanes


#: The chance that a report of a full lot finds one spot just left and not yet retaken.
FULL_TURNOVER = 0.3


class ParkingModel(PeriodicModel):
    def __init__(
        self,
        device: Device,
        root: str,
        seed: int,
        faults: Sequence[FaultWindow],
        *,
        total: int,
        profile: DistrictProfile,
        interval: float,
    ) -> None:
        super().__init__(device, root, seed, faults)
        self.interval = interval
        self.total = total
        self.profile = profile
        self.noise = 0.0
        self.out_of_service = self.rng.choice((0, 0, 1, 2))
        self.stuck: tuple[Fault, int] | None = None
        # Its own stream, drawn on every report, so faults do not shift the others.
        self.turnover = random.Random(f"{seed}:{device.id}:turnover")

    def skip(self, t: float) -> None:
        self.noise = 0.95 * self.noise + self.gauss(0.0, 0.012)
        if self.rng.random() < 0.002:
            self.out_of_service = self.rng.choice((0, 1, 2, 3))

    def body(self, t: float, active: list[FaultWindow]) -> object:
        self.skip(t)
        usable = self.total - self.out_of_service
        share = min(1.0, max(0.0, parking_fill(t, self.profile) + self.noise))
        occupied = min(usable, round(self.total * share))
        # A full lot still turns over: at a report, the spot a car has just left is often
        # not yet taken again.  Only a stuck sensor holds a count at full for hours.
        leaving = self.turnover.random() < FULL_TURNOVER
        for w in active:
            if w.fault.type is FaultType.PARKING_FULL:
                occupied = usable
        if occupied >= usable and leaving:
            occupied = usable - 1
        for w in active:
            if w.fault.type is FaultType.PARKING_STUCK:
                if self.stuck is None or self.stuck[0] is not w.fault:
                    self.stuck = (w.fault, occupied)
                occupied = self.stuck[1]
        return {
            "time": _iso(t),
            "total_spot_number": self.total,
            "occupied_spot_number": occupied,
            "out_of_service_slot_number": self.out_of_service,
        }


class EcologyModel(PeriodicModel):
    def __init__(
        self,
        device: Device,
        root: str,
        seed: int,
        faults: Sequence[FaultWindow],
        *,
        exposure: float,
        weather_phase: float,
        interval: float,
    ) -> None:
        super().__init__(device, root, seed, faults)
        self.interval = interval
        self.exposure = exposure
        self.weather_phase = weather_phase
        self.pm_noise = 0.0
        self.gas_noise = 0.0

    def skip(self, t: float) -> None:
        self.pm_noise = 0.9 * self.pm_noise + self.gauss(0.0, 0.08)
        self.gas_noise = 0.9 * self.gas_noise + self.gauss(0.0, 0.06)

    def body(self, t: float, active: list[FaultWindow]) -> object:
        self.skip(t)
        temperature, humidity, pressure, ventilation = weather(t, self.weather_phase)
        traffic = traffic_index(t) * self.exposure / ventilation
        h = local_hour(t)
        sunlight = math.exp(-0.5 * ((h - 13.5) / 2.5) ** 2)
        values: dict[str, float] = {}
        values["pm25"] = 5.0 + 20.0 * traffic * math.exp(self.pm_noise) + self.gauss(0.0, 0.8)
        values["pm10"] = values["pm25"] * 1.7 + 3.0 + self.gauss(0.0, 1.2)
        values["no2"] = 10.0 + 50.0 * traffic * math.exp(self.gas_noise) + self.gauss(0.0, 2.0)
        values["so2"] = 3.0 + 4.0 * traffic + self.gauss(0.0, 0.4)
        values["co"] = 0.25 + 0.85 * traffic + self.gauss(0.0, 0.04)
        values["o3"] = 18.0 + 40.0 * sunlight - 0.15 * values["no2"] + self.gauss(0.0, 2.5)
        demand = traffic_demand(t) * self.exposure
        values["laeq"] = 45.0 + 10.0 * math.log10(1.0 + 25.0 * demand) + self.gauss(0.0, 1.0)
        values["temperature"] = temperature + self.gauss(0.0, 0.2)
        values["relative_humidity"] = humidity + self.gauss(0.0, 0.01)
        values["atmospheric_pressure"] = pressure + self.gauss(0.0, 0.2)
        for w in active:
            params = w.fault.params
            kind = w.fault.type
            if kind is FaultType.AIR_QUALITY_EXCEEDANCE:
                pollutant = str(params["pollutant"])
                level = float(params["level"])
                level *= self.fault_rng.uniform(0.85, 1.15)
                values[pollutant] = max(values[pollutant], level)
                if pollutant == "pm25":
                    values["pm10"] = max(values["pm10"], values["pm25"] * 1.25)
            elif kind is FaultType.SENSOR_DRIFT:
                hours = (t - w.start) / 3600.0
                values[str(params["field"])] += float(params["rate_per_hour"]) * hours
            elif kind is FaultType.SPIKE:
                values[str(params["field"])] *= float(params["factor"])
        for name in ("pm25", "pm10", "no2", "so2", "co", "o3"):
            values[name] = max(0.1 if name != "co" else 0.05, values[name])
        values["relative_humidity"] = min(1.0, max(0.05, values["relative_humidity"]))
        body: dict[str, object] = {"time": _iso(t)}
        digits = {"co": 2, "relative_humidity": 2, "temperature": 1}
        for name, value in values.items():
            body[name] = round(value, digits.get(name, 1))
        return body


# --- the simulation -------------------------------------------------------------------------
