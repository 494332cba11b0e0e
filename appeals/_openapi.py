"""The API described as an OpenAPI 3.1 document (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from appeals._openapi_actions import action_paths
from appeals._openapi_events import SCHEMAS as EVENT_SCHEMAS
from appeals._openapi_events import event_paths
from appeals._openapi_ratings import SCHEMAS as RATING_SCHEMAS
from appeals._openapi_ratings import ratings_paths
from appeals._openapi_tension import SCHEMAS as TENSION_SCHEMAS
from appeals._openapi_tension import tension_paths

_FMT = {
    "name": "fmt",
    "in": "path",
    "required": True,
    "description": "response format",
    "schema": {"type": "string", "enum": ["json", "xml"]},
}
_ERRORS = {
    "description": "refused; the body says why",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Errors"}},
        "text/xml": {"schema": {"type": "string"}},
    },
}


def _list_of(ref: str) -> dict[str, Any]:
    return {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}
        },
        "text/xml": {"schema": {"type": "string"}},
    }


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _ERRORS for c in codes}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_TEXT = {"type": ["string", "null"]}
_SERVICE_REQUEST = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {
        "service_request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "status_notes": {"type": "string"},
        "service_name": {"type": "string"},
        "service_code": {"type": "string"},
        "description": {"type": "string"},
        "agency_responsible": {"type": "string"},
        "service_notice": {"type": "string"},
        "requested_datetime": {"type": "string", "format": "date-time"},
        "updated_datetime": {"type": "string", "format": "date-time"},
        "expected_datetime": _TEXT,
        "address": {"type": "string"},
        "address_id": {"type": "string"},
        "zipcode": {"type": "string"},
        "lat": {"type": ["number", "null"]},
        "long": {"type": ["number", "null"]},
        "media_url": {"type": "string"},
        "title": {"type": "string"},
        "sector": {"type": "string"},
        "agency": {"type": "string"},
        "priority": {"type": "integer", "minimum": 1, "maximum": 4},
        "district": {"type": "string"},
        "needs_location": {
            "type": "boolean",
            "description": "no coordinates (reported by address): an operator places it",
        },
        "source": {"type": "string", "enum": ["sensor", "citizen", "system"]},
        "external_id": _TEXT,
        "citypulse_status": {
            "type": "string",
            "enum": ["new", "accepted", "in_progress", "resolved", "closed", "rejected"],
        },
        "incident_id": {"type": ["integer", "null"]},
        "group_id": {"type": ["integer", "null"]},
        "confirmed_by_sensors": {"type": "boolean"},
        "evidence": {"type": "object"},
        "contact": {
            "type": "object",
            "description": "the citizen's contact details; only for a key of the appeal's "
            "own agency, one not limited to an agency, or an admin's",
            "additionalProperties": {"type": "string"},
        },
    },
}
_REPORT = {
    "type": "object",
    "required": ["service_code"],
    "properties": {
        "api_key": {"type": "string", "maxLength": 512},
        "service_code": {"type": "string", "maxLength": 64},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "long": {"type": "number", "minimum": -180, "maximum": 180},
        "address_string": {"type": "string", "maxLength": 500},
        "address_id": {"type": "string", "maxLength": 100},
        "email": {"type": "string", "maxLength": 254},
        "device_id": {"type": "string", "maxLength": 100},
        "account_id": {"type": "string", "maxLength": 100},
        "first_name": {"type": "string", "maxLength": 100},
        "last_name": {"type": "string", "maxLength": 100},
        "phone": {"type": "string", "maxLength": 40},
        "description": {"type": "string", "maxLength": 4000},
        "media_url": {"type": "string", "format": "uri", "maxLength": 2048},
    },
}
_UPLOAD = {
    "allOf": [
        {"$ref": "#/components/schemas/Report"},
        {
            "type": "object",
            "properties": {
                "media": {
                    "type": "string",
                    "format": "binary",
                    "description": "a photo: JPEG, PNG or WebP (told by its bytes), at most "
                    "--max-media bytes (5 MiB); served back as media_url; not with media_url",
                }
            },
        },
    ]
}
_OPTIONAL_KEY: list[dict[str, list[str]]] = [{}, {"ApiKey": []}]
_KEY_PARAM = {
    "name": "api_key",
    "in": "query",
    "required": False,
    "description": "optional; an operator's key shows citizens' contact details of its "
    "agency's requests (or the X-Api-Key header)",
    "schema": {"type": "string", "maxLength": 512},
}


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the document."""
    v2 = "/open311/v2"
    appeal_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    }
    note_body = {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"note": {"type": "string", "maxLength": 2000}},
                }
            },
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"note": {"type": "string", "maxLength": 2000}},
                }
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "citypulse governance center API",
            "version": "1.0.0",
            "description": "Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) for "
            "sensor appeals and citizens' reports in one queue, plus operators' actions. "
            "Errors: [{code, description}] (XML when the path ends in .xml); every 405 "
            "carries Allow.",
        },
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
            "schemas": {
                "Errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "description"],
                        "properties": {
                            "code": {"type": "integer"},
                            "description": {"type": "string"},
                        },
                    },
                },
                "Service": {
                    "type": "object",
                    "required": ["service_code", "service_name", "type", "group"],
                    "properties": {
                        "service_code": {"type": "string"},
                        "service_name": {"type": "string"},
                        "description": {"type": "string"},
                        "metadata": {"type": "boolean"},
                        "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
                        "keywords": {"type": "string"},
                        "group": {"type": "string"},
                    },
                },
                "ServiceRequest": _SERVICE_REQUEST,
                "Created": {
                    "type": "object",
                    "required": ["service_request_id", "token"],
                    "properties": {
                        "service_request_id": {"type": "string"},
                        "token": {"type": "string", "description": "see GET tokens/{token}"},
                        "service_notice": {"type": "string"},
                        "account_id": _TEXT,
                    },
                },
                "Report": _REPORT,
                "Upload": _UPLOAD,
                "TokenRef": {
                    "type": "object",
                    "required": ["service_request_id", "token"],
                    "properties": {
                        "service_request_id": {"type": "string"},
                        "token": {"type": "string"},
                    },
                },
                **EVENT_SCHEMAS,
                **RATING_SCHEMAS,
                **TENSION_SCHEMAS,
            },
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "the service and its database answer",
                    "responses": {"200": {"description": "healthy"}, **_errors(503)},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "this document",
                    "responses": {"200": {"description": "OpenAPI"}},
                }
            },
            v2 + "/services.{fmt}": {
                "get": {
                    "summary": "services citizens can report to",
                    "parameters": [_FMT],
                    "responses": {
                        "200": {"description": "services", "content": _list_of("Service")},
                        **_errors(404),
                    },
                }
            },
            v2 + "/services/{code}.{fmt}": {
                "get": {
                    "summary": "one service's definition",
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        _FMT,
                    ],
                    "responses": {"200": {"description": "definition"}, **_errors(400, 404)},
                }
            },
            v2 + "/requests.{fmt}": {
                "get": {
                    "summary": "the queue: sensor appeals and citizens' reports",
                    "parameters": [
                        _FMT,
                        _query(
                            "service_request_id",
                            "comma-separated ids; other filters are then ignored",
                            {"type": "string"},
                        ),
                        _query("service_code", "comma-separated service codes", {"type": "string"}),
                        _query(
                            "start_date",
                            "requested at or after (W3C date-time); with end_date, at most "
                            "90 days before it; alone, the 90 days from it",
                            {"type": "string", "format": "date-time"},
                        ),
                        _query(
                            "end_date",
                            "requested at or before (W3C date-time); alone, the 90 days up to it",
                            {"type": "string", "format": "date-time"},
                        ),
                        _query(
                            "status", "open, closed or both (comma-separated)", {"type": "string"}
                        ),
                        _query(
                            "page",
                            "1-based page",
                            {"type": "integer", "minimum": 1, "maximum": 100000},
                        ),
                        _query(
                            "page_size",
                            "results per page (default 100)",
                            {"type": "integer", "minimum": 1, "maximum": 1000},
                        ),
                        _query(
                            "source",
                            "sensor, citizen or system",
                            {"type": "string", "enum": ["sensor", "citizen", "system"]},
                        ),
                        _query("sector", "sector block", {"type": "string"}),
                        _query("agency", "responsible agency", {"type": "string"}),
                        _query("district", "district name", {"type": "string"}),
                        _query("external_id", "the sender's idempotency key", {"type": "string"}),
                        _query("overdue", "past the deadline and not done", {"type": "boolean"}),
                        _query(
                            "needs_location",
                            "reported by address only: still to be placed on the map",
                            {"type": "boolean"},
                        ),
                        _query("jurisdiction_id", "ignored (one jurisdiction)", {"type": "string"}),
                        _KEY_PARAM,
                    ],
                    "security": _OPTIONAL_KEY,
                    "responses": {
                        "200": {
                            "description": "a page, newest first; X-Total-Count: matches (capped)",
                            "content": _list_of("ServiceRequest"),
                        },
                        **_errors(400, 401, 404),
                    },
                },
                "post": {
                    "summary": "submit a citizen's report (reporter key)",
                    "security": [{"ApiKey": []}],
                    "parameters": [
                        _FMT,
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 200},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {"$ref": "#/components/schemas/Report"}
                            },
                            "multipart/form-data": {
                                "schema": {"$ref": "#/components/schemas/Upload"},
                                "encoding": {
                                    "media": {
                                        "contentType": "image/jpeg, image/png, image/webp, "
                                        "application/octet-stream"
                                    }
                                },
                            },
                            "application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
                        },
                    },
                    "responses": {
                        "201": {"description": "queued", "content": _list_of("Created")},
                        "200": {
                            "description": "already queued under this Idempotency-Key",
                            "content": _list_of("Created"),
                        },
                        **_errors(400, 401, 403, 404, 413, 415),
                    },
                },
            },
            v2 + "/requests/{id}.{fmt}": {
                "get": {
                    "summary": "one request",
                    "parameters": [appeal_id, _FMT, _KEY_PARAM],
                    "security": _OPTIONAL_KEY,
                    "responses": {
                        "200": {
                            "description": "the request (a list of one)",
                            "content": _list_of("ServiceRequest"),
                        },
                        **_errors(400, 401, 404),
                    },
                }
            },
            v2 + "/tokens/{token}.{fmt}": {
                "get": {
                    "summary": "the request a token from POST requests names",
                    "parameters": [
                        {
                            "name": "token",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
                        },
                        _FMT,
                    ],
                    "responses": {
                        "200": {
                            "description": "its service_request_id (a list of one)",
                            "content": _list_of("TokenRef"),
                        },
                        **_errors(400, 404),
                    },
                }
            },
            v2 + "/media/{name}": {
                "get": {
                    "summary": "a photo uploaded with a report (its media_url)",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "description": "key.jpg, key.png or key.webp",
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "the image",
                            "content": {
                                t: {"schema": {"type": "string", "format": "binary"}}
                                for t in ("image/jpeg", "image/png", "image/webp")
                            },
                        },
                        **_errors(404),
                    },
                }
            },
            "/api/v1/appeals/{id}": {
                "get": {
                    "summary": "an appeal with its history and links (operator key; one "
                    "limited to an agency gets 404 for another agency's)",
                    "security": [{"ApiKey": []}],
                    "parameters": [appeal_id],
                    "responses": {
                        "200": {"description": "the appeal"},
                        **_errors(400, 401, 403, 404),
                    },
                }
            },
            "/api/v1/appeals/{id}/{action}": {
                "post": {
                    "summary": "accept, progress, resolve, reject or close (operator key; one "
                    "limited to an agency gets 404 for another agency's)",
                    "security": [{"ApiKey": []}],
                    "parameters": [
                        appeal_id,
                        {
                            "name": "action",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "enum": ["accept", "progress", "resolve", "reject", "close"],
                            },
                        },
                    ],
                    "requestBody": note_body,
                    "responses": {
                        "200": {"description": "the appeal after the action"},
                        **_errors(400, 401, 403, 404, 409, 413, 415),
                    },
                }
            },
            **action_paths(appeal_id, _errors),
            **event_paths(_ERRORS),
            **ratings_paths(_errors),
            **tension_paths(_query, _errors),
        },
    }
