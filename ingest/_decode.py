"""Payload decoding: MQTT topic + bytes in, typed readings or precise rejections out.

Nothing past this module sees raw bytes or ``dict[str, Any]``.  The decoder never raises
for bad input: every problem becomes a :class:`Rejection` with a machine-readable reason
and a human-readable detail, kept as a dead letter with the raw bytes.  One bad reading
in a batch rejects that reading only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

import orjson

from citypulse import (
    DEVICE_ID_RE,
    READING_TYPES,
    SLUG_RE,
    DeviceKind,
    DeviceStatus,
    Reading,
)
from ingest._fast import fast_rows
from ingest._fields import (
    FIELDS,
    REQUIRED,
    _Bad,
    _integer,
    _json_type,
    _number,
    _parse_time,
    _Parser,
)

MAX_PAYLOAD_BYTES: Final = 256 * 1024
MAX_FUTURE: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a message could not be stored."""

    reason: str
    detail: str
    index: int | None = None  # position in an array payload, None for the whole message


@dataclass(frozen=True, slots=True)
class TopicInfo:
    district: str
    kind: DeviceKind
    device_id: str
    channel: str  # "telemetry" or "status"


class Decoded(NamedTuple):
    """The outcome for one message: what can be stored and what cannot.

    ``rows`` are the readings as tuples in the field order of the kind's reading record
    (which is the column order COPY writes), so the hot path never builds records;
    ``readings`` builds them on demand.  ``oldest``/``newest`` bound the rows' times.
    An immutable named tuple rather than a frozen dataclass: one is made per message, and
    a frozen dataclass costs several times more to construct.
    """

    topic: TopicInfo | None
    rows: tuple[tuple[Any, ...], ...]
    rejections: tuple[Rejection, ...]
    status: DeviceStatus | None = None
    oldest: datetime | None = None
    newest: datetime | None = None

    @property
    def weight(self) -> int:
        """Readings this message carries, at least one: what batches, backpressure and the
        rate limit count."""
        return len(self.rows) or 1

    @property
    def readings(self) -> tuple[Reading, ...]:
        if not self.rows or self.topic is None:
            return ()
        build = READING_TYPES[self.topic.kind]
        return tuple(build(*row) for row in self.rows)


_MEASURES: Final = {k: frozenset(v) - {"lane_id"} for k, v in FIELDS.items()}
_KINDS: Final = {k.value: k for k in DeviceKind}
_MAX_FUTURE_S: Final = MAX_FUTURE.total_seconds()
_new: Final = tuple.__new__


@dataclass(frozen=True, slots=True)
class _Layout:
    """One kind's row: defaults in field order, and per payload field where it goes.

    ``specs[name] = (index, parser, low, high, fast, measure)``: ``fast`` is ``float`` or
    ``int`` when a value of exactly that type within ``[low, high]`` can be taken as it
    is; anything else goes through ``parser``, which converts or raises the precise error.
    """

    template: tuple[Any, ...]
    specs: Mapping[str, tuple[int, _Parser, float, float, type | None, bool]]
    required: tuple[tuple[int, str], ...]
    occupied: int = -1  # parking: occupied_spot_number <= total_spot_number
    total: int = -1


def _row_layout(kind: DeviceKind) -> _Layout:
    record_fields = fields(READING_TYPES[kind])
    names = [f.name for f in record_fields]
    assert names[:2] == ["device_id", "time"]
    assert names[-1] == "time_from_receiver"
    template = tuple(None if f.default is MISSING else f.default for f in record_fields)
    index = {n: i for i, n in enumerate(names)}
    fast: dict[_Parser, type] = {_number: float, _integer: int}
    specs = {
        name: (index[name], parse, low, high, fast.get(parse), name in _MEASURES[kind])
        for name, (parse, low, high) in FIELDS[kind].items()
    }
    return _Layout(
        template=template,
        specs=specs,
        required=tuple(sorted((index[n], n) for n in REQUIRED[kind])),
        occupied=index.get("occupied_spot_number", -1),
        total=index.get("total_spot_number", -1),
    )


_LAYOUTS: Final = {k: _row_layout(k) for k in DeviceKind}
_UTC: Final = UTC


# --- repeated keys --------------------------------------------------------------------
# orjson keeps the last of two equal keys.  Devices must not get to choose which value of
# {"pm25": 1, "pm25": 999} a reader sees, so a repeated key is rejected; finding one
# takes a second, slower parse, done only when the payload might have one.


def _may_repeat_keys(payload: bytes, document: object) -> bool:
    """False when no object in ``document`` (as parsed from ``payload``) can have lost a
    repeated key.

    Every key in the text is followed by a ``:``, so the payload's colons are at least
    its keys plus the colons inside its strings (raw, as written).  If they add up to no
    more than the keys that survived parsing plus the colons of the ``time`` strings kept
    (equal to their raw text when the payload has no backslash escape), no key was
    dropped.  Checked per reading, flat; anything else (nested objects, colons in other
    strings, escapes) is settled by :func:`_repeated_keys`.
    """
    colons = payload.count(b":")
    if not colons:
        return False
    if type(document) is dict:
        keys = len(document)
        if colons == keys:
            return False
        t = document.get("time")
        in_times = t.count(":") if type(t) is str else 0
    elif type(document) is list:
        keys = in_times = 0
        for item in document:
            if type(item) is dict:
                keys += len(item)
                t = item.get("time")
                if type(t) is str:
                    in_times += t.count(":")
        if colons == keys:
            return False
    else:
        return False  # a string or a number: no objects
    return colons != keys + in_times or b"\\" in payload


class _Checked(dict[str, Any]):
    """A JSON object as :func:`_repeated_keys` parses it; ``repeated`` names the first key
    given twice in it or in an object within it."""

    repeated: str | None = None


def _nested_repeat(value: object) -> str | None:
    if type(value) is _Checked:
        return value.repeated
    if type(value) is list:
        for element in value:
            found = _nested_repeat(element)
            if found is not None:
                return found
    return None


def _checked_object(pairs: list[tuple[str, Any]]) -> _Checked:
    obj = _Checked(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                obj.repeated = key
                break
            seen.add(key)
    else:
        for _, value in pairs:
            obj.repeated = _nested_repeat(value)
            if obj.repeated is not None:
                break
    return obj


def _repeated_keys(payload: bytes) -> dict[int | None, str]:
    """Where ``payload`` (valid JSON) repeats a key: ``{None: key}`` for a whole object,
    ``{index: key}`` for each reading of an array that does; empty when nothing repeats."""
    try:
        document = json.loads(payload, object_pairs_hook=_checked_object)
    except RecursionError:
        raise _Bad("too_deep", "JSON nested too deeply to check for repeated keys") from None
    if type(document) is _Checked:
        return {} if document.repeated is None else {None: document.repeated}
    if type(document) is list:
        return {
            i: item.repeated
            for i, item in enumerate(document)
            if type(item) is _Checked and item.repeated is not None
        }
    return {}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def parse_topic(topic: str, root: str) -> TopicInfo:
    """Split ``{root}/{district}/{kind}/{device_id}/{telemetry|status}``; raise ``_Bad``."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != root:
        raise _Bad(
            "bad_topic", f"topic must be {root}/{{district}}/{{kind}}/{{device_id}}/telemetry"
        )
    _, district, kind_name, device_id, channel = parts
    kind = _KINDS.get(kind_name)
    if kind is None:
        raise _Bad("unknown_kind", f"unknown device kind {kind_name[:40]!r}")
    if not SLUG_RE.match(district):
        raise _Bad("bad_topic", f"district {district[:40]!r} is not a slug")
    if not DEVICE_ID_RE.match(device_id):
        raise _Bad("bad_topic", f"device id {device_id[:70]!r} is not valid")
    if channel not in ("telemetry", "status"):
        raise _Bad("bad_topic", f"unknown channel {channel[:40]!r}")
    return TopicInfo(district, kind, device_id, channel)


class Decoder:
    """Decodes telemetry and status messages for one topic root and retention.

    Topic parses are cached (devices publish to the same topic over and over).  With
    ``fast`` (the default) a telemetry payload goes through :func:`ingest._fast.fast_rows`
    first, and only what that does not accept through the checks here, which give the
    exact rejection; ``fast=False`` decodes everything here (the reference in tests).
    """

    __slots__ = (
        "_bounds",
        "_clock",
        "_retention_s",
        "_topics",
        "fast",
        "max_payload",
        "retention",
        "root",
    )
    _TOPIC_CACHE_SIZE: Final = 200_000

    def __init__(
        self,
        *,
        root: str = "city",
        retention: timedelta = timedelta(days=365),
        max_payload: int = MAX_PAYLOAD_BYTES,
        fast: bool = True,
    ) -> None:
        if not SLUG_RE.match(root):
            raise ValueError(f"topic root {root!r} must be a slug")
        self.root = root
        self.retention = retention
        self.max_payload = max_payload
        self.fast = fast
        self._topics: dict[str, TopicInfo | Rejection] = {}
        self._retention_s = retention.total_seconds()
        epoch = datetime.fromtimestamp(0, UTC)
        self._clock = (epoch, 0.0)
        self._bounds = (0.0, self._retention_s, _MAX_FUTURE_S)

    def _topic(self, topic: str) -> TopicInfo | Rejection:
        cached = self._topics.get(topic)
        if cached is None:
            try:
                cached = parse_topic(topic, self.root)
            except _Bad as bad:
                cached = Rejection(bad.reason, bad.detail)
            if len(self._topics) >= self._TOPIC_CACHE_SIZE:
                self._topics.clear()
            self._topics[topic] = cached
        return cached

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> Decoded:
        """Decode one message; never raises for bad input."""
        info = self._topics.get(topic) or self._topic(topic)
        if type(info) is Rejection:
            return Decoded(None, (), (info,))
        assert type(info) is TopicInfo
        if received_at is not self._clock[0]:  # callers reuse one clock reading per tick
            self._clock = (received_at, received_at.timestamp())
            self._bounds = (self._clock[1], self._retention_s, _MAX_FUTURE_S)
        if self.fast and info.channel == "telemetry" and len(payload) <= self.max_payload:
            done = fast_rows(info.kind, info.device_id, payload, received_at, self._bounds)
            if done is not None:  # a named tuple's own __new__ would cost twice as much
                return _new(Decoded, (info, done[0], (), None, done[1], done[2]))
        try:
            if len(payload) > self.max_payload:
                raise _Bad("payload_too_large", f"{len(payload)} bytes > {self.max_payload}")
            try:
                document = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                text = str(exc)
                if "depth limit" in text:
                    raise _Bad("too_deep", f"JSON nested too deeply: {text[:160]}") from None
                reason = "invalid_utf8" if "utf-8" in text.lower() else "invalid_json"
                raise _Bad(reason, f"not valid JSON: {text[:160]}") from None
            repeated = _repeated_keys(payload) if _may_repeat_keys(payload, document) else None
            if repeated and None in repeated:
                raise _Bad("duplicate_key", f"key {repeated[None][:40]!r} is given twice")
            if info.channel == "status":
                return Decoded(info, (), (), self._status(info, document, received_at))
        except _Bad as bad:
            return Decoded(info, (), (Rejection(bad.reason, bad.detail),))
        if type(document) is list:
            if not document:
                return Decoded(info, (), (Rejection("empty_batch", "empty array"),))
            items: list[Any] = document
            indexed = True
        else:
            items = [document]
            indexed = False
        rows: list[tuple[Any, ...]] = []
        rejections: list[Rejection] = []
        layout = _LAYOUTS[info.kind]
        window = (self._clock[1], self._retention_s)
        for i, item in enumerate(items):
            try:
                if repeated and i in repeated:
                    raise _Bad("duplicate_key", f"key {repeated[i][:40]!r} is given twice")
                rows.append(self._row(info, layout, item, received_at, window))
            except _Bad as bad:
                index = i if indexed else None
                where = f"reading {i}: " if indexed else ""
                rejections.append(Rejection(bad.reason, where + bad.detail, index))
        if not rows:
            return Decoded(info, (), tuple(rejections))
        if len(rows) == 1:
            t = rows[0][1]
            return Decoded(info, tuple(rows), tuple(rejections), None, t, t)
        times = [r[1] for r in rows]
        return Decoded(info, tuple(rows), tuple(rejections), None, min(times), max(times))

    def _row(
        self,
        info: TopicInfo,
        layout: _Layout,
        item: object,
        received_at: datetime,
        window: tuple[float, float],
    ) -> tuple[Any, ...]:
        """One reading as a row in field order; raises ``_Bad`` with the first problem."""
        if type(item) is not dict:
            raise _Bad("not_an_object", f"a reading must be a JSON object, got {_json_type(item)}")
        specs = layout.specs
        row = list(layout.template)
        measured = False
        epoch: float | None = None
        for key, value in item.items():
            spec = specs.get(key)
            if spec is None:
                if key == "time":
                    epoch = _parse_time(value)
                elif key == "device_id":
                    if value != info.device_id:
                        raise _Bad(
                            "device_mismatch", "device_id in the payload differs from the topic"
                        )
                elif value is not None:
                    raise _Bad("unknown_field", f"unknown field {key[:40]!r} for {info.kind.value}")
                continue
            if value is None:
                continue
            index, parse, low, high, fast, measure = spec
            if fast is type(value) and low <= value <= high:  # type: ignore[operator]
                row[index] = value
            else:
                row[index] = parse(key, value, low, high)
            if measure:
                measured = True
        for index, name in layout.required:
            if row[index] is None:
                raise _Bad("missing_field", f"missing {name}")
        if not measured:
            raise _Bad("missing_field", "no measurement in the reading")
        if layout.total >= 0:
            total = row[layout.total]
            if total is not None and (row[layout.occupied] or 0) > total:
                raise _Bad("inconsistent", "occupied_spot_number exceeds total_spot_number")
        row[0] = info.device_id
        if epoch is None:
            row[1] = received_at
            row[-1] = True
            return tuple(row)
        received, retention = window
        if epoch > received + _MAX_FUTURE_S:
            raise _Bad("time_in_future", f"time {_iso(epoch)} is more than 5 min ahead")
        if epoch < received - retention:
            raise _Bad("time_too_old", f"time {_iso(epoch)} is older than the retention")
        row[1] = datetime.fromtimestamp(epoch, _UTC)
        return tuple(row)

    def _status(self, info: TopicInfo, document: object, received_at: datetime) -> DeviceStatus:
        if type(document) is not dict:
            raise _Bad("not_an_object", "a status must be a JSON object")
        online = document.get("online")
        if type(online) is not bool:
            raise _Bad("missing_field", "status needs online: true or false")
        extra = set(document) - {"online", "time", "reason", "device_id"}
        if extra:
            raise _Bad("unknown_field", f"unknown field {sorted(extra)[0][:40]!r} in a status")
        when = (
            datetime.fromtimestamp(_parse_time(document["time"]), UTC)
            if "time" in document
            else received_at
        )
        if when > received_at + MAX_FUTURE:
            raise _Bad("time_in_future", "status time is more than 5 min ahead")
        reason = document.get("reason", "status")
        if type(reason) is not str or not reason or len(reason) > 32:
            raise _Bad("wrong_type", "reason must be a short string")
        return DeviceStatus(info.device_id, when, online, reason)
