"""The decoder's fast path: msgspec decodes and validates a telemetry payload in one pass.

msgspec parses the JSON in C straight into a typed struct per device kind, with each
field's type and bounds taken from :data:`ingest._fields.FIELDS`, several times faster
than parsing to a ``dict`` and checking it in Python.  The fast path only ever accepts:
whatever it cannot take as certainly valid (a validation error, malformed JSON, a null, a
key that may be repeated, a backslash escape, a time outside the window, more spots
occupied than exist) makes it answer ``None``, and the hand-written decoder then gives
the exact rejection, or the row for the few valid forms the fast path leaves to it (such
as ``5.0`` for an integer).  So a dead letter's reason and detail come from one
implementation; ``tests/ingest/test_fast.py`` checks that both paths agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Annotated, Any, Final, NamedTuple

import msgspec
from msgspec.structs import astuple

from citypulse import READING_TYPES, DeviceKind, Phase
from ingest._fields import FIELDS, REQUIRED, _Bad, _boolean, _integer, _number, _parse_time, _phase

_MAX_EPOCH_MS: Final = 32_503_680_000_000  # as ingest._fields._parse_time
_ERRORS: Final = (msgspec.ValidationError, msgspec.DecodeError)
_TRUE: Final = (True,)  # time_from_receiver, the row's last field
_FALSE: Final = (False,)
_ZERO: Final = (0,)
#: The last reading time built, as (epoch seconds, datetime): a gateway's batch, and
#: devices that report on whole seconds or aligned intervals, repeat the time of the
#: reading before, and a comparison costs a tenth of building the datetime.  One tuple,
#: replaced whole, so that threads decoding at once never see half of another's.
_last_at: tuple[float, datetime] = (-1.0, datetime.fromtimestamp(0, UTC))

Rows = tuple[tuple[Any, ...], ...]


def _field_type(kind: DeviceKind, name: str) -> Any:
    parse, low, high = FIELDS[kind][name]
    if parse is _number:
        return Annotated[float, msgspec.Meta(ge=low, le=high)]
    if parse is _integer:
        return Annotated[int, msgspec.Meta(ge=int(low), le=int(high))]
    if parse is _boolean:
        return bool
    if parse is _phase:
        return Phase
    return Annotated[str, msgspec.Meta(min_length=int(low), max_length=int(high))]  # _text


class _Kind(NamedTuple):
    """One kind's struct decoder and where things are in the struct as a tuple, whose
    fields are the reading record's in order, without ``time_from_receiver``."""

    decode: Any  # msgspec.json.Decoder(struct | list[struct]).decode
    width: int  # fields in the struct
    lane: int  # camera: lane_id, 0 when absent or null (the record's default); else -1
    total: int  # parking: total_spot_number and occupied_spot_number; else -1
    occupied: int


def _kind(kind: DeviceKind) -> _Kind:
    names = [f.name for f in fields(READING_TYPES[kind])][:-1]
    assert names[:2] == ["device_id", "time"]
    assert set(names[2:]) == set(FIELDS[kind])
    spec: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        ("device_id", str | None, None),
        ("time", float | str | None, None),
    ]
    for name in names[2:]:
        typ = _field_type(kind, name)
        spec.append((name, typ) if name in REQUIRED[kind] else (name, typ | None, None))
    struct = msgspec.defstruct(
        f"{kind.value}_payload", spec, kw_only=True, forbid_unknown_fields=True
    )
    index = {n: i for i, n in enumerate(names)}
    return _Kind(
        decode=msgspec.json.Decoder(struct | list[struct]).decode,  # type: ignore[valid-type]
        width=len(names),
        lane=index.get("lane_id", -1),
        total=index.get("total_spot_number", -1),
        occupied=index.get("occupied_spot_number", -1),
    )


_KINDS: Final[Mapping[DeviceKind, _Kind]] = {k: _kind(k) for k in DeviceKind}


def fast_rows(
    kind: DeviceKind,
    device_id: str,
    payload: bytes,
    received_at: datetime,
    window: tuple[float, float, float],
) -> tuple[Rows, datetime, datetime] | None:
    """The rows of a telemetry ``payload`` that is certainly valid, with their oldest and
    newest times; ``None`` for anything else (see the module docstring).

    ``window``: reception in epoch seconds, the retention and the allowed future, both in
    seconds."""
    global _last_at
    if 92 in payload:  # a backslash (an int: memchr, several times faster than b"\\")
        return None  # escapes: the raw text may differ from the decoded, so colons too
    decode, width, lane, total, occupied = _KINDS[kind]
    try:
        document = decode(payload)
    except _ERRORS:
        return None
    items = document if type(document) is list else (document,)
    if not items:
        return None
    received, retention, future = window
    # Every key is followed by a colon, so a payload's colons are its keys plus the colons
    # in its strings.  ``keys`` counts the distinct keys with a value (not null), so when
    # the colons add up to them and the colons of their strings, no key was given twice
    # (or null): anything else goes to the decoder, which says which.
    keys = 0
    rows: list[tuple[Any, ...]] = []
    for item in items:
        t = astuple(item)
        present = width - t.count(None)
        keys += present
        given, when = t[0], t[1]
        if given is not None:
            if given != device_id:
                return None
            keys += given.count(":")
            present -= 1
        if when is not None:
            present -= 1
        if lane >= 0:
            if t[lane] is None:
                t = t[:lane] + _ZERO + t[lane + 1 :]
            else:
                present -= 1
        if present <= 0:
            return None  # no measurement
        if total >= 0 and t[total] is not None and (t[occupied] or 0) > t[total]:
            return None
        if when is None:
            # concatenation: half the cost of (device_id, received_at, *t[2:], True)
            rows.append((device_id, received_at) + t[2:] + _TRUE)  # noqa: RUF005
            continue
        if type(when) is float:
            if not 0 <= when < _MAX_EPOCH_MS:
                return None
            epoch = when / 1000.0
        else:
            keys += when.count(":")
            try:
                epoch = _parse_time(when)
            except _Bad:
                return None
        if epoch > received + future or epoch < received - retention:
            return None
        last, at = _last_at
        if epoch != last:
            at = datetime.fromtimestamp(epoch, UTC)
            _last_at = (epoch, at)
        rows.append((device_id, at) + t[2:] + _FALSE)  # noqa: RUF005
    if payload.count(b":") != keys:
        return None
    if len(rows) == 1:
        at = rows[0][1]
        return tuple(rows), at, at
    times = [row[1] for row in rows]
    return tuple(rows), min(times), max(times)
