"""Open311 GeoReport v2 representations: service requests and services, in JSON and XML.

The same service-request dictionary is the API's answer and the outbox payload, so a
receiver sees one shape.  It has the specification's fields plus citypulse extras
(``title``, ``sector``, ``agency``, ``priority``, ``district``, ``source``,
``external_id`` (the sender's idempotency key), ``citypulse_status``, ``incident_id``,
``group_id``, ``confirmed_by_sensors``, ``evidence``, ``needs_location``: no coordinates
yet, an operator places it on the map).  Citizens' contact details are never part of it
(the API adds them for the keys allowed to see them, see ``_scope``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # builds documents only; nothing is parsed
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from appeals._routing import Service
from citypulse import Appeal, AppealStatus

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TAG_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def open311_status(status: AppealStatus) -> str:
    """GeoReport v2 knows only ``open`` and ``closed``."""
    return "open" if status.is_open else "closed"


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def service_request(
    appeal: Appeal, *, service_name: str = "", status_notes: str = ""
) -> dict[str, Any]:
    """The appeal as a GeoReport v2 service request (plus citypulse extras)."""
    times = [
        t
        for t in (appeal.requested_at, appeal.accepted_at, appeal.resolved_at, appeal.closed_at)
        if t is not None
    ]
    return {
        "service_request_id": str(appeal.id),
        "status": open311_status(appeal.status),
        "status_notes": status_notes,
        "service_name": service_name,
        "service_code": appeal.service_code,
        "description": appeal.description,
        "agency_responsible": appeal.agency,
        "service_notice": "",
        "requested_datetime": _iso(appeal.requested_at),
        "updated_datetime": _iso(max(times)),
        "expected_datetime": _iso(appeal.expected_at),
        "address": appeal.address,
        "address_id": appeal.address_id,
        "zipcode": "",
        "lat": appeal.lat,
        "long": appeal.lon,
        "media_url": appeal.media_url or "",
        "title": appeal.title,
        "sector": appeal.sector,
        "agency": appeal.agency,
        "priority": appeal.priority,
        "district": appeal.district,
        "needs_location": appeal.needs_location,
        "source": appeal.source.value,
        "external_id": appeal.external_id,
        "citypulse_status": appeal.status.value,
        "incident_id": appeal.incident_id,
        "group_id": appeal.group_id,
        "confirmed_by_sensors": appeal.confirmed_by_sensors,
        "evidence": dict(appeal.evidence),
    }


def service_definition(service: Service) -> dict[str, Any]:
    """An entry of ``GET services``."""
    return {
        "service_code": service.service_code,
        "service_name": service.service_name,
        "description": service.description,
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(service.keywords),
        "group": service.group,
    }


def clean_text(text: str) -> str:
    """``text`` without characters XML 1.0 cannot carry."""
    return _XML_BAD.sub("", text)


def _fill(element: ET.Element, value: object) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            tag = _TAG_BAD.sub("_", str(key)) or "item"
            if not (tag[0].isalpha() or tag[0] == "_"):
                tag = f"_{tag}"
            _fill(ET.SubElement(element, tag), item)
    elif isinstance(value, list | tuple):
        for item in value:
            _fill(ET.SubElement(element, "item"), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = clean_text(str(value))


def to_xml(root: str, item: str, rows: Sequence[Mapping[str, object]]) -> bytes:
    """``<root><item>…</item>…</root>`` as the specification lays lists out."""
    top = ET.Element(root)
    for row in rows:
        _fill(ET.SubElement(top, item), row)
    return _document(top)


def to_xml_object(root: str, fields: Mapping[str, object]) -> bytes:
    """``<root><field>…</field>…</root>`` (a single object, e.g. a service definition)."""
    top = ET.Element(root)
    _fill(top, fields)
    return _document(top)


def _document(top: ET.Element) -> bytes:
    document: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return document
