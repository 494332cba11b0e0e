"""Domain records shared by ingest, detectors, connectors and dashboards.

Every record is a frozen, slotted dataclass: built once at the edge (the payload decoder,
a database row), never mutated afterwards.  Attribute names follow the FIWARE Smart Data
Models in snake_case where a model exists (TrafficFlowObserved, OffStreetParking,
AirQualityObserved, NoiseLevelObserved).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


class DeviceKind(enum.StrEnum):
    """What a field device is; also the third level of its MQTT topic."""

    TRAFFIC_LIGHT = "traffic_light"
    CAMERA = "camera"
    PARKING = "parking"
    ECOLOGY = "ecology"


class Phase(enum.StrEnum):
    """Signal phase reported by a traffic-light controller."""

    RED = "red"
    RED_YELLOW = "red_yellow"
    GREEN = "green"
    YELLOW = "yellow"
    FLASHING_YELLOW = "flashing_yellow"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Device:
    """A registered field device."""

    id: str
    kind: DeviceKind
    name: str = ""
    district: str = ""
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    intersection: str | None = None
    report_interval_s: float = 60.0
    attributes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrafficLightReading:
    """State of a signal controller at ``time`` (sent on each phase change and as heartbeat)."""

    kind: ClassVar[DeviceKind] = DeviceKind.TRAFFIC_LIGHT
    device_id: str
    time: datetime
    phase: Phase
    phase_elapsed: float | None = None  # s since the current phase began
    cycle_length: float | None = None  # s
    lamp_fault: bool | None = None
    door_open: bool | None = None
    supply_voltage: float | None = None  # V
    controller_mode: str | None = None  # fixed_time, actuated, adaptive, manual, ...
    time_from_receiver: bool = False


@dataclass(frozen=True, slots=True)
class CameraReading:
    """TrafficFlowObserved for one lane over the device's reporting interval."""

    kind: ClassVar[DeviceKind] = DeviceKind.CAMERA
    device_id: str
    time: datetime
    lane_id: int = 0
    intensity: int | None = None  # vehicles in the interval
    average_vehicle_speed: float | None = None  # km/h
    occupancy: float | None = None  # 0..1
    heavy_vehicle_share: float | None = None  # 0..1
    congested: bool | None = None
    time_from_receiver: bool = False


@dataclass(frozen=True, slots=True)
class ParkingReading:
    """OffStreetParking occupancy."""

    kind: ClassVar[DeviceKind] = DeviceKind.PARKING
    device_id: str
    time: datetime
    total_spot_number: int | None = None
    occupied_spot_number: int | None = None
    out_of_service_slot_number: int | None = None
    time_from_receiver: bool = False


@dataclass(frozen=True, slots=True)
class EcologyReading:
    """AirQualityObserved and NoiseLevelObserved at one station."""

    kind: ClassVar[DeviceKind] = DeviceKind.ECOLOGY
    device_id: str
    time: datetime
    pm25: float | None = None  # µg/m³
    pm10: float | None = None  # µg/m³
    no2: float | None = None  # µg/m³
    so2: float | None = None  # µg/m³
    co: float | None = None  # mg/m³
    o3: float | None = None  # µg/m³
    laeq: float | None = None  # dB(A)
    temperature: float | None = None  # °C
    relative_humidity: float | None = None  # 0..1
    atmospheric_pressure: float | None = None  # hPa
    time_from_receiver: bool = False


Reading = TrafficLightReading | CameraReading | ParkingReading | EcologyReading

READING_TYPES: Mapping[DeviceKind, type[Reading]] = {
    DeviceKind.TRAFFIC_LIGHT: TrafficLightReading,
    DeviceKind.CAMERA: CameraReading,
    DeviceKind.PARKING: ParkingReading,
    DeviceKind.ECOLOGY: EcologyReading,
}


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """An online/offline transition (status topic or MQTT last will)."""

    device_id: str
    time: datetime
    online: bool
    reason: str = "status"
