"""Devices and incidents for the connectors tests: the preset city's devices."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from citypulse import Device, Incident, IncidentStatus, IncidentType
from simulator import preset_city

T0 = datetime(2026, 11, 25, 5, 14, tzinfo=UTC)  # 08:14 in Moscow


def city_devices() -> dict[str, Device]:
    return {d.id: d for d in preset_city().devices()}


def make_incident(
    incident_type: IncidentType,
    device_id: str,
    *,
    incident_id: int = 1,
    value: float | None = None,
    limit_value: float | None = None,
    unit: str = "",
    evidence: Mapping[str, object] | None = None,
    minutes: float = 7,
    severity: int = 3,
    started_at: datetime = T0,
) -> Incident:
    return Incident(
        id=incident_id,
        type=incident_type,
        device_id=device_id,
        severity=severity,
        status=IncidentStatus.OPEN,
        started_at=started_at,
        last_alarm_at=started_at + timedelta(minutes=minutes),
        detector="test-detector",
        score=0.97,
        threshold=0.9,
        value=value,
        limit_value=limit_value,
        unit=unit,
        evidence=dict(evidence or {}),
    )
