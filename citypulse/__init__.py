"""citypulse, the kernel: settings, domain records, air limits, errors, hooks and lifetimes.

The bottom layer.  Every other package (``simulator``, ``ingest``, ``detectors``,
``appeals``, ``connectors``, ``grafana``, ``lab``) imports its shared names from here, and
the kernel imports none of them; ``citypulse.db`` (schema and migrations),
``citypulse.devices`` (registry and MQTT logins) and ``citypulse.render`` (SVG charts and
the city map) are its subpackages.
"""

from citypulse._air import AIR_LIMITS, MG_PER_M3, UG_PER_M3, AirLimit
from citypulse._args import (
    FloatRange,
    IntRange,
    folder,
    http_url,
    iso_time,
    non_negative_float,
    non_negative_int,
    positive_duration,
    positive_float,
    positive_int,
    slug,
    tcp_port,
)
from citypulse._duration import parse_duration
from citypulse._errors import (
    CitypulseError,
    ConfigError,
    DatabaseError,
    DatabaseUnavailable,
    MigrationError,
    SchemaModeError,
)
from citypulse._hooks import (
    IncidentChange,
    IncidentListener,
    IncidentListenerFactory,
    incident_listener,
    incident_listener_names,
)
from citypulse._lazy import lazy_exports
from citypulse._lifecycle import stop_on_signals
from citypulse._percentile import percentile
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
from citypulse._settings import LOCALES, Locale, MqttUrl, Secret, Settings, mask_url
from citypulse._signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign_body,
    verify_body,
)

__all__ = [
    "AIR_LIMITS",
    "DEVICE_ID_RE",
    "LOCALES",
    "MG_PER_M3",
    "READING_TYPES",
    "SIGNATURE_HEADER",
    "SLUG_RE",
    "TIMESTAMP_HEADER",
    "UG_PER_M3",
    "AirLimit",
    "Appeal",
    "AppealSource",
    "AppealStatus",
    "CameraReading",
    "CitypulseError",
    "ConfigError",
    "DatabaseError",
    "DatabaseUnavailable",
    "Device",
    "DeviceKind",
    "DeviceStatus",
    "EcologyReading",
    "FloatRange",
    "Incident",
    "IncidentChange",
    "IncidentListener",
    "IncidentListenerFactory",
    "IncidentStatus",
    "IncidentType",
    "IntRange",
    "Locale",
    "MigrationError",
    "MqttUrl",
    "ParkingReading",
    "Phase",
    "Reading",
    "SchemaModeError",
    "Secret",
    "Settings",
    "SignatureError",
    "TrafficLightReading",
    "folder",
    "http_url",
    "incident_listener",
    "incident_listener_names",
    "iso_time",
    "lazy_exports",
    "mask_url",
    "non_negative_float",
    "non_negative_int",
    "parse_duration",
    "percentile",
    "positive_duration",
    "positive_float",
    "positive_int",
    "sign_body",
    "slug",
    "stop_on_signals",
    "tcp_port",
    "verify_body",
]
