"""What the report reads: its queries and their rows, read by column name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TRAFFIC = """
SELECT date_bin(%(step)s, c.time, %(start)s) AS bucket, d.district,
       sum(c.intensity)::float8 AS vehicles,
       sum(c.average_vehicle_speed * c.intensity)::float8 AS speed_weighted,
       (sum(c.intensity) FILTER (WHERE c.average_vehicle_speed IS NOT NULL))::float8
           AS speed_weight
FROM camera_readings c JOIN devices d ON d.id = c.device_id
WHERE c.time >= %(start)s AND c.time < %(end)s
GROUP BY 1, 2 ORDER BY 1, 2
"""
AIR = """
SELECT time, device_id, pm25, pm10, no2 FROM ecology_readings
WHERE time >= %(start)s AND time < %(end)s ORDER BY time
"""
COUNT = "SELECT count(*) FROM {} WHERE time >= %(start)s AND time < %(end)s"
INCIDENTS = """
SELECT i.id, i.type, i.device_id, i.severity, i.status, i.started_at, i.last_alarm_at,
       i.resolved_at, i.value, i.limit_value, i.unit,
       coalesce(i.evidence->>'metric', i.evidence->>'pollutant', '') AS metric,
       a.id AS appeal_id, a.title AS appeal_title, a.status AS appeal_status,
       a.agency AS appeal_agency, a.locale AS appeal_locale
FROM incidents i LEFT JOIN appeals a ON a.incident_id = i.id
WHERE i.started_at < %(end)s AND coalesce(i.resolved_at, 'infinity') >= %(start)s
ORDER BY i.started_at, i.id
"""
# Citizens' contact details are personal data: never selected here.
CITIZEN_APPEALS = """
SELECT id, title, district, address, status, requested_at, lat, lon FROM appeals
WHERE source = 'citizen' AND requested_at >= %(start)s AND requested_at < %(end)s
ORDER BY requested_at, id
"""


@dataclass(frozen=True, slots=True)
class TrafficRow:
    bucket: datetime
    district: str
    vehicles: float | None
    speed_weighted: float | None
    speed_weight: float | None


@dataclass(frozen=True, slots=True)
class AirRow:
    time: datetime
    device_id: str
    pm25: float | None
    pm10: float | None
    no2: float | None


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident of the period with its appeal (``appeal_id`` None when it has none)."""

    id: int
    type: str
    device_id: str
    severity: int
    status: str
    started_at: datetime
    last_alarm_at: datetime
    resolved_at: datetime | None
    value: float | None
    limit_value: float | None
    unit: str
    metric: str
    appeal_id: int | None
    appeal_title: str | None
    appeal_status: str | None
    appeal_agency: str | None
    appeal_locale: str | None


@dataclass(frozen=True, slots=True)
class CitizenRow:
    id: int
    title: str
    district: str
    address: str
    status: str
    requested_at: datetime
    lat: float | None
    lon: float | None
