"""OpenAPI paths of the actions beside status changes (see ``appeals._api_actions``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

MAX_ID = 2**63 - 1


def _body(properties: Mapping[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": dict(properties), "required": required}
    return {
        "required": True,
        "content": {
            "application/json": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


def action_paths(
    appeal_id: Mapping[str, Any], errors: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """The OpenAPI paths of these actions."""
    text = {"type": "string", "minLength": 1, "maxLength": 2000}
    paths: dict[str, Any] = {}
    for action, summary, properties, required in (
        (
            "transfer",
            "hand the appeal to another agency, with a reason (operator key)",
            {"agency": {"type": "string", "minLength": 1, "maxLength": 200}, "reason": text},
            ["agency", "reason"],
        ),
        ("notes", "add a note to the appeal's history (operator key)", {"note": text}, ["note"]),
        (
            "duplicates",
            "mark the appeal a duplicate of another; it joins that appeal's group",
            {
                "duplicate_of": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "note": {"type": "string", "maxLength": 2000},
            },
            ["duplicate_of"],
        ),
    ):
        paths[f"/api/v1/appeals/{{id}}/{action}"] = {
            "post": {
                "summary": summary,
                "security": [{"ApiKey": []}],
                "parameters": [dict(appeal_id)],
                "requestBody": _body(properties, required),
                "responses": {
                    "200": {"description": "the appeal after the action"},
                    **errors(400, 401, 403, 404, 409, 413, 415),
                },
            }
        }
    return paths
