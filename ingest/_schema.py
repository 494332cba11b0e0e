"""JSON Schemas of the wire contract, derived from the decoder's field specifications.

The files in ``ingest/schemas/`` are generated from here (``python -m ingest._schema``)
and a test checks that they are current, so documentation and enforcement never drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from citypulse import DeviceKind, Phase
from ingest._fields import FIELDS, REQUIRED, _boolean, _integer, _number, _phase, _text

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
_UNITS = {
    "phase_elapsed": "s",
    "cycle_length": "s",
    "supply_voltage": "V",
    "intensity": "vehicles per reporting interval",
    "average_vehicle_speed": "km/h",
    "occupancy": "fraction 0..1",
    "heavy_vehicle_share": "fraction 0..1",
    "pm25": "µg/m³",
    "pm10": "µg/m³",
    "no2": "µg/m³",
    "so2": "µg/m³",
    "co": "mg/m³",
    "o3": "µg/m³",
    "laeq": "dB(A)",
    "temperature": "°C",
    "relative_humidity": "fraction 0..1",
    "atmospheric_pressure": "hPa",
}


def json_schema(kind: DeviceKind) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one ``kind``'s telemetry payload."""
    properties: dict[str, Any] = {
        "time": {
            "description": "ISO-8601 with an offset, or epoch milliseconds; default: reception",
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number", "minimum": 0}],
        },
        "device_id": {"type": "string", "description": "must equal the topic's device id"},
    }
    for name, (parser, low, high) in FIELDS[kind].items():
        prop: dict[str, Any]
        if parser is _number:
            prop = {"type": "number", "minimum": low, "maximum": high}
        elif parser is _integer:
            prop = {"type": "integer", "minimum": int(low), "maximum": int(high)}
        elif parser is _boolean:
            prop = {"type": "boolean"}
        elif parser is _phase:
            prop = {"enum": [p.value for p in Phase]}
        elif parser is _text:
            prop = {"type": "string", "minLength": int(low), "maxLength": int(high)}
        else:  # pragma: no cover - a new parser needs a schema here
            raise TypeError(name)
        if name in _UNITS:
            prop["description"] = _UNITS[name]
        properties[name] = (
            {"oneOf": [prop, {"type": "null"}]} if name not in REQUIRED[kind] else prop
        )
    reading = {
        "type": "object",
        "properties": properties,
        "required": sorted(REQUIRED[kind]),
        "additionalProperties": False,
        "minProperties": 1,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://citypulse.example/schemas/{kind.value}.json",
        "title": f"citypulse {kind.value} telemetry",
        "description": f"Payload of city/{{district}}/{kind.value}/{{device_id}}/telemetry: "
        "one reading or an array of readings.",
        "$defs": {"reading": reading},
        "oneOf": [
            {"$ref": "#/$defs/reading"},
            {"type": "array", "items": {"$ref": "#/$defs/reading"}, "minItems": 1},
        ],
    }


def render(kind: DeviceKind) -> str:
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for kind in DeviceKind:
        (SCHEMA_DIR / f"{kind.value}.json").write_text(render(kind), encoding="utf-8")
    print(f"wrote {len(DeviceKind)} schemas to {SCHEMA_DIR}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
