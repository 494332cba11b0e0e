"""OpenAPI path of the agencies' ratings (see ``appeals._api_ratings``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_SECONDS = {"type": ["number", "null"], "description": "seconds"}
_SHARE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_SENSORS_FIRST = {
    "type": "object",
    "required": ["faults", "sensor_first", "share", "median_lead_s"],
    "properties": {
        "faults": {"type": "integer", "description": "reported by a sensor and by citizens"},
        "sensor_first": {"type": "integer"},
        "share": _SHARE,
        "median_lead_s": {
            "type": ["number", "null"],
            "description": "first citizen minus first sensor; negative: citizens first",
        },
    },
}
SCHEMAS: dict[str, Any] = {
    "Rating": {
        "type": "object",
        "required": [
            "name", "received", "accept_median_s", "accept_p90_s", "resolve_median_s",
            "resolve_p90_s", "on_time_share", "overdue", "reopened", "sensor_share", "score",
            "rank",
        ],
        "properties": {
            "name": {"type": "string", "description": "the agency or the sector block"},
            "received": {"type": "integer"},
            "accept_median_s": _SECONDS,
            "accept_p90_s": _SECONDS,
            "resolve_median_s": _SECONDS,
            "resolve_p90_s": _SECONDS,
            "on_time_share": _SHARE,
            "overdue": {"type": "integer"},
            "reopened": {"type": "integer"},
            "sensor_share": {"type": "number", "minimum": 0, "maximum": 1},
            "score": {"type": "number", "minimum": 0, "maximum": 100},
            "rank": {"type": ["integer", "null"], "description": "null: too few appeals"},
        },
    },
    "SensorsFirst": _SENSORS_FIRST,
}  # fmt: skip


def ratings_paths(errors: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI path of GET /api/v1/ratings."""
    when = {"type": "string", "description": "a date (midnight, region's zone) or date-time"}
    return {
        "/api/v1/ratings": {
            "get": {
                "summary": "agencies' or sector blocks' ratings for appeals received in "
                "[since, until) (default: the last full ISO week in the region's zone), "
                "and the sensors-first figures (operator key); the score is documented "
                "in docs/appeals.md",
                "security": [{"ApiKey": []}],
                "parameters": [
                    {"name": "since", "in": "query", "schema": when},
                    {"name": "until", "in": "query", "schema": when},
                    {
                        "name": "by",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["agency", "sector"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the period, ratings best first, sensors first",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["since", "until", "by", "ratings"],
                                    "properties": {
                                        "since": {"type": "string", "format": "date-time"},
                                        "until": {"type": "string", "format": "date-time"},
                                        "by": {"type": "string", "enum": ["agency", "sector"]},
                                        "ratings": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Rating"},
                                        },
                                        "sensors_first": {
                                            "$ref": "#/components/schemas/SensorsFirst"
                                        },
                                        "sensors_first_by_sector": {
                                            "type": "object",
                                            "additionalProperties": {
                                                "$ref": "#/components/schemas/SensorsFirst"
                                            },
                                        },
                                    },
                                }
                            }
                        },
                    },
                    **errors(400, 401, 403),
                },
            }
        }
    }
