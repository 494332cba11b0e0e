"""citypulse: shared settings, domain records and errors.

Every other package (``ingest``, ``detectors``, ``connectors``, ``grafana``) imports its
shared names from here.
"""

from citypulse._errors import (
    CitypulseError,
    ConfigError,
    DatabaseError,
    MigrationError,
    SchemaModeError,
)
from citypulse._hooks import IncidentChange, IncidentListener
from citypulse._records import (
    DEVICE_ID_RE,
    READING_TYPES,
    SLUG_RE,
    Appeal,
    AppealSource,
    AppealStatus,
    CameraReading,
    Device,
    DeviceKind,
    DeviceStatus,
    EcologyReading,
    Incident,
    IncidentStatus,
    IncidentType,
    ParkingReading,
    Phase,
    Reading,
    TrafficLightReading,
)
from citypulse._settings import MqttUrl, Secret, Settings, mask_url

__all__ = [
    "DEVICE_ID_RE",
    "READING_TYPES",
    "SLUG_RE",
    "Appeal",
    "AppealSource",
    "AppealStatus",
    "CameraReading",
    "CitypulseError",
    "ConfigError",
    "DatabaseError",
    "Device",
    "DeviceKind",
    "DeviceStatus",
    "EcologyReading",
    "Incident",
    "IncidentChange",
    "IncidentListener",
    "IncidentStatus",
    "IncidentType",
    "MigrationError",
    "MqttUrl",
    "ParkingReading",
    "Phase",
    "Reading",
    "SchemaModeError",
    "Secret",
    "Settings",
    "TrafficLightReading",
    "mask_url",
]
