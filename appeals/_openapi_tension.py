"""``GET /api/v1/tension`` in the OpenAPI document (see ``appeals._api_tension``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "TensionPoint": {
        "type": "object",
        "description": "a tension point (точка напряжённости): a surge of appeals in a "
        "sector block and district against their weekly-seasonal normal, a cluster of one "
        "theme in one place, or a device or place that keeps coming back",
        "required": [
            "id",
            "kind",
            "sector",
            "district",
            "service_code",
            "score",
            "started_at",
            "ended_at",
            "active",
            "explanation",
            "appeal_ids",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "kind": {"type": "string", "enum": ["surge", "cluster", "recurrence"]},
            "sector": {"type": "string", "description": "sector block"},
            "district": {"type": "string", "description": "district name; empty: region-wide"},
            "service_code": {"type": "string", "description": "empty: the whole sector block"},
            "device_id": {"type": ["string", "null"]},
            "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
            "lon": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
            "score": {
                "type": "number",
                "minimum": 0,
                "description": "how far beyond normal; comparable within a kind",
            },
            "started_at": {**_TIME, "description": "the first appeal that made the point"},
            "ended_at": {"type": ["string", "null"], "format": "date-time"},
            "detected_at": {**_TIME, "description": "appeal-stream time it was first reported"},
            "active": {"type": "boolean", "description": "ended_at is null"},
            "explanation": {"type": "string", "description": "in the requested language"},
            "appeal_ids": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "description": "its member appeals (an agency's key: its agency's only)",
            },
        },
    }
}


def tension_paths(
    _query: Callable[[str, str, dict[str, Any]], dict[str, Any]],
    errors: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """The OpenAPI path of ``GET /api/v1/tension`` (``_query`` makes a query parameter)."""
    return {
        "/api/v1/tension": {
            "get": {
                "summary": "tension points active at some time in [since, until), newest "
                "first, each explained in the requested language (operator key; one limited "
                "to an agency sees the points holding its agency's appeals, with only those)",
                "security": [{"ApiKey": []}],
                "parameters": [
                    _query(
                        "since",
                        "from (W3C date-time); without since and until, the last 7 days",
                        _TIME,
                    ),
                    _query("until", "before (W3C date-time), after since", _TIME),
                    _query("sector", "sector block (see GET services, group)", {"type": "string"}),
                    _query("district", "district name or slug", {"type": "string"}),
                    _query(
                        "kind",
                        "kind of point",
                        {"type": "string", "enum": ["surge", "cluster", "recurrence"]},
                    ),
                    _query(
                        "lang",
                        "language of the explanations; without it "
                        "Accept-Language, else the region's",
                        {"type": "string", "enum": ["ru", "en"]},
                    ),
                    _query(
                        "limit",
                        "at most this many (default 500)",
                        {"type": "integer", "minimum": 1, "maximum": 1000},
                    ),
                    {
                        "name": "Accept-Language",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the points; Content-Language says the language",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/TensionPoint"},
                                }
                            }
                        },
                    },
                    **errors(400, 401, 403),
                },
            }
        }
    }
