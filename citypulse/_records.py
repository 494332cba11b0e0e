"""Domain records shared by ingest, detectors, connectors and dashboards.

Every record is a frozen, slotted dataclass: built once at the edge (the payload decoder,
a database row), never mutated afterwards.  Attribute names follow the FIWARE Smart Data
Models in snake_case where a model exists (TrafficFlowObserved, OffStreetParking,
AirQualityObserved, NoiseLevelObserved).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Final

#: A device id: also its MQTT username and a level of its topics (the wire contract).
DEVICE_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
#: A district slug or a topic root: a level of the topics too.
SLUG_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


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


class IncidentType(enum.StrEnum):
    """What kind of deviation an incident is; routing maps each to a sector block."""

    STUCK_PHASE = "stuck_phase"  # a signal phase that does not change
    SIGNAL_FLASHING = "signal_flashing"  # controller fell back to flashing yellow
    SIGNAL_DARK = "signal_dark"  # signal off
    LAMP_FAULT = "lamp_fault"  # controller reports a failed lamp
    DEVICE_SILENT = "device_silent"  # no data beyond k x the expected interval / last will
    FROZEN_VALUES = "frozen_values"  # the same values repeated (frozen camera, flatline)
    CAMERA_OBSTRUCTED = "camera_obstructed"  # counts collapse while neighbours see traffic
    CONGESTION = "congestion"  # speed far below baseline with high occupancy
    PARKING_STUCK = "parking_stuck"  # parking sensor value does not move
    PARKING_FULL = "parking_full"  # lot full for long
    AIR_QUALITY_EXCEEDANCE = "air_quality_exceedance"  # СанПиН limit exceeded
    SENSOR_DRIFT = "sensor_drift"  # slow drift from the seasonal baseline
    ANOMALY = "anomaly"  # statistical outlier not covered by a specific type
    INVALID_DATA = "invalid_data"  # impossible values, unit mistakes, malformed payloads


class EventIncidentType(enum.StrEnum):
    """What an event from another of the region's systems opens (``POST /api/v1/events``);
    the routing file maps each system's own event types to these."""

    ROAD_ACCIDENT = "road_accident"  # ДТП: video analytics, 112
    STOPPED_VEHICLE = "stopped_vehicle"  # a vehicle standing on the carriageway
    CROWD = "crowd"  # a crowd where people do not usually gather
    FIRE = "fire"  # 112
    UTILITY_OUTAGE = "utility_outage"  # no heat, water or power: 112, housing inspection
    HOUSING_VIOLATION = "housing_violation"  # a building's upkeep: housing inspection


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # the series has been normal for the configured time
    CLOSED = "closed"  # an operator closed the incident's appeal


@dataclass(frozen=True, slots=True)
class Incident:
    """A deviation on one device, as stored in ``incidents`` (one open per device and type)."""

    id: int
    type: IncidentType
    device_id: str
    severity: int  # 1 low .. 4 critical
    status: IncidentStatus
    started_at: datetime  # reading time of the first alarming reading
    last_alarm_at: datetime
    detector: str
    score: float  # [0, 1]
    threshold: float  # [0, 1]
    value: float | None = None  # the offending value (e.g. 0.21 mg/m³ PM10, 420 s of red)
    limit_value: float | None = None  # the limit it was compared against, if any
    unit: str = ""
    evidence: Mapping[str, object] = field(default_factory=dict)
    related_devices: tuple[str, ...] = ()
    resolved_at: datetime | None = None
    opened_at: datetime | None = None
    alarms: int = 1
    note: str = ""


class AppealSource(enum.StrEnum):
    SENSOR = "sensor"  # our detectors
    CITIZEN = "citizen"  # a citizen's report
    SYSTEM = "system"  # an event from another of the region's systems (objective monitoring)


class AppealStatus(enum.StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        """Open311's split: new, accepted and in progress are "open", the rest "closed"
        (the API's ``status`` field and filter, and what may still be auto-resolved)."""
        return self in _OPEN_APPEALS


_OPEN_APPEALS: Final = frozenset(
    {AppealStatus.NEW, AppealStatus.ACCEPTED, AppealStatus.IN_PROGRESS}
)


@dataclass(frozen=True, slots=True)
class Appeal:
    """One item of the governance center's queue, as stored in ``appeals``."""

    id: int
    source: AppealSource
    sector: str  # sector block: Дороги, Транспорт, Экология, ЖКХ, ...
    service_code: str  # Open311 service_code
    title: str
    description: str
    status: AppealStatus
    requested_at: datetime
    priority: int = 2  # 1 low .. 4 critical
    agency: str = ""
    channel: str = "citypulse"
    external_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    address_id: str = ""  # GeoReport v2 address_id, when a reporter gave one
    needs_location: bool = False  # no coordinates: an operator places it on the map
    district: str = ""
    locale: str = "ru"
    expected_at: datetime | None = None  # deadline
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    evidence: Mapping[str, object] = field(default_factory=dict)
    incident_id: int | None = None
    group_id: int | None = None
    confirmed_by_sensors: bool = False
    media_url: str | None = None
