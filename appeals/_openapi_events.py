"""``POST /api/v1/events`` in the OpenAPI document: the event schema and an example per
source system of the default routing file (docs/events.md shows the same ones)."""

from __future__ import annotations

from typing import Any

#: One example per source system; tests check that each is accepted as it stands.
EXAMPLES: dict[str, dict[str, Any]] = {
    "safe_city": {
        "summary": "«Безопасный город»: video analytics saw an accident",
        "value": {
            "source": "safe_city",
            "event_id": "va-2026-11-25-000417",
            "type": "accident",
            "occurred_at": "2026-11-25T08:14:05+03:00",
            "location": {"lat": 54.5066, "lon": 36.2481},
            "address": "ул. Кирова / ул. Театральная",
            "device_id": "BG-CAM-0451",
            "severity": 3,
            "description": "Столкновение двух легковых автомобилей, заняты две полосы",
            "extra": {"confidence": 0.93, "vehicles": 2, "frame_url": "https://bg.example/f/417"},
        },
    },
    "dispatch_112": {
        "summary": "Система-112: a call about a fire",
        "value": {
            "source": "dispatch_112",
            "event_id": "112-40-2026-118832",
            "type": "fire",
            "occurred_at": "2026-11-25T05:20:00Z",
            "location": {"lat": 54.5139, "lon": 36.2611},
            "address": "ул. Ленина, 74",
            "severity": 4,
            "description": "Задымление в подъезде, со слов заявителя",
            "extra": {"card": "118832", "services": ["01", "03"]},
        },
    },
    "gzhi": {
        "summary": "Госжилинспекция: no hot water in a building",
        "value": {
            "source": "gzhi",
            "event_id": "gzhi-act-5521",
            "type": "utility_outage",
            "occurred_at": "2026-11-25T07:00:00+03:00",
            "address": "г. Калуга, ул. Гагарина, 9",
            "severity": 2,
            "description": "Нет горячей воды во всём доме с утра",
            "extra": {"utility": "hot_water", "management_company": "ООО «УК Центр»"},
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "Event": {
        "type": "object",
        "required": ["source", "event_id", "type", "occurred_at"],
        "additionalProperties": False,
        "description": "location or address is required too",
        "properties": {
            "source": {
                "type": "string",
                "description": "the sending system, as the routing file's events.sources "
                "names it (default: safe_city, dispatch_112, gzhi); must be the key's own",
                "maxLength": 200,
            },
            "event_id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$",
                "description": "the sender's id: a repeat is answered with the first result",
            },
            "type": {
                "type": "string",
                "maxLength": 64,
                "description": "the sender's event type, mapped by the routing file "
                "(safe_city: accident, stopped_vehicle, crowd; dispatch_112: accident, fire, "
                "utility_outage; gzhi: utility_outage, housing_violation)",
            },
            "occurred_at": {
                "type": "string",
                "format": "date-time",
                "description": "ISO 8601 with its offset; at most 5 minutes in the future",
            },
            "location": {
                "type": "object",
                "required": ["lat", "lon"],
                "additionalProperties": False,
                "properties": {
                    "lat": {"type": "number", "minimum": -90, "maximum": 90},
                    "lon": {"type": "number", "minimum": -180, "maximum": 180},
                },
            },
            "address": {"type": "string", "maxLength": 500},
            "device_id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$",
                "description": "the sender's camera or device",
            },
            "severity": {"type": "integer", "minimum": 1, "maximum": 4},
            "description": {"type": "string", "maxLength": 4000},
            "extra": {
                "type": "object",
                "description": "anything else (at most 8 KiB); utility: heating, hot_water, "
                "cold_water, water, power or gas names what an outage cut off",
            },
        },
    },
    "EventAccepted": {
        "type": "object",
        "required": ["source", "event_id", "incident_id", "appeal_id", "outcome", "replayed"],
        "properties": {
            "source": {"type": "string"},
            "event_id": {"type": "string"},
            "incident_id": {"type": "integer"},
            "appeal_id": {"type": "integer"},
            "outcome": {
                "type": "string",
                "enum": ["opened", "updated"],
                "description": "a new incident and appeal, or a repeat of an open one",
            },
            "replayed": {"type": "boolean", "description": "true: this event id came before"},
        },
    },
}


def event_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """The path item; ``errors`` is the document's error response object."""
    accepted = {"application/json": {"schema": {"$ref": "#/components/schemas/EventAccepted"}}}
    signed = (
        "A system key (X-Api-Key) and the body's signature: X-Citypulse-Timestamp (Unix "
        "seconds) and X-Citypulse-Signature: sha256=<hex HMAC-SHA256(signing secret, "
        '"{timestamp}.{body}")>, as citypulse signs its webhooks; stale after 5 minutes. '
        "See docs/events.md."
    )
    header = {"in": "header", "required": True, "schema": {"type": "string"}}
    return {
        "/api/v1/events": {
            "post": {
                "summary": "an event from another of the region's systems (system key)",
                "description": signed,
                "security": [{"ApiKey": []}],
                "parameters": [
                    {"name": "X-Citypulse-Timestamp", **header},
                    {"name": "X-Citypulse-Signature", **header},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/Event"},
                            "examples": EXAMPLES,
                        }
                    },
                },
                "responses": {
                    "201": {"description": "opened or updated", "content": accepted},
                    "200": {"description": "a repeated event id: the first answer"},
                    **{str(code): errors for code in (400, 401, 403, 409, 413, 415, 422)},
                },
            }
        }
    }
