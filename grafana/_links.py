"""Evidence links: the dashboard showing a device around an incident."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from citypulse import DeviceKind
from grafana._panels import KIND_DASHBOARD


def panel_url(
    base_url: str, kind: DeviceKind | str, device_id: str, start: datetime, end: datetime
) -> str:
    """``{base_url}/d/{uid}?var-device={id}&from={epoch ms}&to={epoch ms}`` for a device.

    ``kind`` picks the dashboard (traffic lights: intersections, cameras: traffic flow,
    parking, ecology: air quality); ``start`` and ``end`` must carry a UTC offset.
    """
    try:
        uid = KIND_DASHBOARD[DeviceKind(kind).value]
    except ValueError:
        raise ValueError(f"no dashboard for device kind {kind!r}") from None
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must carry a UTC offset")
    if end < start:
        raise ValueError("end is before start")
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    from_ms = int(start.timestamp() * 1000)
    to_ms = int(end.timestamp() * 1000)
    return (
        f"{base_url.rstrip('/')}/d/{uid}?var-device={quote(device_id, safe=':')}"
        f"&from={from_ms}&to={to_ms}"
    )
