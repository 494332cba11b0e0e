"""The wire contract's fields: per device kind, each payload field's parser and bounds.

Shared by the decoder (:mod:`ingest._decode`), its fast path (:mod:`ingest._fast`) and
the JSON Schemas (:mod:`ingest._schema`), so the three never drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from citypulse import DeviceKind, Phase


class _Bad(Exception):
    """A field the decoder rejects; caught within the decoder (:mod:`ingest._decode`) and
    turned into a :class:`Rejection` (a malformed message is counted and kept, never
    raised), so it is control flow, not part of the package's error tree."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# --- field specifications -----------------------------------------------------------
# name -> (parser, low, high); bounds are physical limits, not "normal" ranges.

_Parser = Callable[[str, object, float, float], object]
Spec = tuple[_Parser, float, float]


def _number(name: str, value: object, low: float, high: float) -> float:
    if type(value) is float:
        number = value
    elif type(value) is int:
        number = float(value)
    else:
        raise _Bad("wrong_type", f"{name} must be a number, got {_json_type(value)}")
    if not math.isfinite(number):
        raise _Bad("not_finite", f"{name} is not a finite number")
    if not low <= number <= high:
        raise _Bad("out_of_range", f"{name}={number:g} is outside [{low:g}, {high:g}]")
    return number


def _integer(name: str, value: object, low: float, high: float) -> int:
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise _Bad("wrong_type", f"{name} must be an integer, got {_json_type(value)}")
    if not low <= value <= high:
        raise _Bad("out_of_range", f"{name}={value} is outside [{low:g}, {high:g}]")
    return value


def _boolean(name: str, value: object, low: float, high: float) -> bool:
    if type(value) is not bool:
        raise _Bad("wrong_type", f"{name} must be true or false, got {_json_type(value)}")
    return value


def _text(name: str, value: object, low: float, high: float) -> str:
    if type(value) is not str:
        raise _Bad("wrong_type", f"{name} must be a string, got {_json_type(value)}")
    if not low <= len(value) <= high:
        raise _Bad("out_of_range", f"{name} must have {low:g}..{high:g} characters")
    return value


_PHASES = frozenset(p.value for p in Phase)


def _phase(name: str, value: object, low: float, high: float) -> Phase:
    if type(value) is not str or value not in _PHASES:
        raise _Bad("wrong_type", f"{name} must be one of {', '.join(sorted(_PHASES))}")
    return Phase(value)


FIELDS: Final[Mapping[DeviceKind, Mapping[str, Spec]]] = {
    DeviceKind.TRAFFIC_LIGHT: {
        "phase": (_phase, 0, 0),
        "phase_elapsed": (_number, 0, 7 * 86400),
        "cycle_length": (_number, 0, 3600),
        "lamp_fault": (_boolean, 0, 0),
        "door_open": (_boolean, 0, 0),
        "supply_voltage": (_number, 0, 400),
        "controller_mode": (_text, 1, 32),
    },
    DeviceKind.CAMERA: {
        "lane_id": (_integer, 0, 32),
        "intensity": (_integer, 0, 10_000),
        "average_vehicle_speed": (_number, 0, 250),
        "occupancy": (_number, 0, 1),
        "heavy_vehicle_share": (_number, 0, 1),
        "congested": (_boolean, 0, 0),
    },
    DeviceKind.PARKING: {
        "total_spot_number": (_integer, 0, 100_000),
        "occupied_spot_number": (_integer, 0, 100_000),
        "out_of_service_slot_number": (_integer, 0, 100_000),
    },
    DeviceKind.ECOLOGY: {
        "pm25": (_number, 0, 2_000),
        "pm10": (_number, 0, 3_000),
        "no2": (_number, 0, 5_000),
        "so2": (_number, 0, 5_000),
        "co": (_number, 0, 500),
        "o3": (_number, 0, 2_000),
        "laeq": (_number, 0, 150),
        "temperature": (_number, -60, 60),
        "relative_humidity": (_number, 0, 1),
        "atmospheric_pressure": (_number, 800, 1_100),
    },
}
REQUIRED: Final[Mapping[DeviceKind, frozenset[str]]] = {
    DeviceKind.TRAFFIC_LIGHT: frozenset({"phase"}),
    DeviceKind.CAMERA: frozenset(),
    DeviceKind.PARKING: frozenset(),
    DeviceKind.ECOLOGY: frozenset(),
}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _parse_time(value: object) -> float:
    """Epoch seconds from ISO-8601 text with an offset or from epoch milliseconds."""
    if type(value) is int or type(value) is float:
        if not 0 <= value < 32_503_680_000_000:  # also rejects NaN; inf fails the bound
            raise _Bad("bad_time", f"epoch milliseconds {value!r} out of range")
        return value / 1000.0
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Bad("bad_time", f"time {value[:40]!r} is not ISO-8601") from None
        if parsed.tzinfo is None:
            raise _Bad("bad_time", "time has no UTC offset (add Z or +03:00)")
        return parsed.timestamp()
    raise _Bad("bad_time", f"time must be ISO-8601 text or epoch ms, got {_json_type(value)}")
