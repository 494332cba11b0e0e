"""The payload decoder: every input gives readings and/or precise rejections, never an error."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citypulse import CameraReading, DeviceKind, EcologyReading, Phase, TrafficLightReading
from ingest import MAX_PAYLOAD_BYTES, Decoder

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
CAM = "city/leninsky/camera/cam-1/telemetry"
ECO = "city/leninsky/ecology/eco-1/telemetry"
TL = "city/leninsky/traffic_light/tl-1/telemetry"
PARK = "city/leninsky/parking/park-1/telemetry"


@pytest.fixture
def decoder() -> Decoder:
    return Decoder(root="city", retention=timedelta(days=365))


def reasons(decoder: Decoder, topic: str, payload: bytes) -> list[str]:
    return [r.reason for r in decoder.decode(topic, payload, NOW).rejections]


def test_camera_reading_with_epoch_ms(decoder: Decoder) -> None:
    out = decoder.decode(
        CAM,
        orjson.dumps(
            {
                "time": NOW_MS - 60_000,
                "lane_id": 2,
                "intensity": 14,
                "average_vehicle_speed": 38.5,
                "occupancy": 0.2,
                "congested": False,
            }
        ),
        NOW,
    )
    assert out.rejections == ()
    assert out.readings == (
        CameraReading("cam-1", NOW - timedelta(minutes=1), 2, 14, 38.5, 0.2, None, False),
    )
    assert out.topic is not None
    assert out.topic.kind is DeviceKind.CAMERA
    assert out.topic.district == "leninsky"


def test_iso_time_with_offset_is_converted_to_utc(decoder: Decoder) -> None:
    out = decoder.decode(TL, b'{"time": "2026-11-23T14:59:00+03:00", "phase": "red"}', NOW)
    assert out.readings == (
        TrafficLightReading("tl-1", datetime(2026, 11, 23, 11, 59, tzinfo=UTC), Phase.RED),
    )


def test_missing_time_means_reception_time_and_is_marked(decoder: Decoder) -> None:
    (reading,) = decoder.decode(ECO, b'{"pm25": 12.5}', NOW).readings
    assert isinstance(reading, EcologyReading)
    assert reading.time == NOW
    assert reading.time_from_receiver


def test_one_bad_reading_in_a_batch_keeps_the_good_ones(decoder: Decoder) -> None:
    payload = orjson.dumps(
        [
            {"time": NOW_MS, "pm25": 10},
            {"time": NOW_MS, "pm25": -4},
            {"time": NOW_MS + 1000, "pm10": 20},
            "junk",
        ]
    )
    out = decoder.decode(ECO, payload, NOW)
    assert len(out.readings) == 2
    assert [(r.reason, r.index) for r in out.rejections] == [
        ("out_of_range", 1),
        ("not_an_object", 3),
    ]
    assert "reading 1: pm25=-4" in out.rejections[0].detail


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (ECO, b"{not json", "invalid_json"),
        (ECO, b"\xff\xfe{}", "invalid_utf8"),
        (ECO, b'{"pm25": NaN}', "invalid_json"),
        (ECO, b'{"pm25": 1e400}', "invalid_json"),
        (ECO, b'{"pm25": "12"}', "wrong_type"),
        (ECO, b'{"pm25": true}', "wrong_type"),
        (ECO, b'{"pm25": 12, "pm26": 1}', "unknown_field"),
        (ECO, b'{"temperature": 95}', "out_of_range"),
        (ECO, b'{"relative_humidity": 81}', "out_of_range"),  # percent instead of 0..1
        (ECO, b"{}", "missing_field"),
        (ECO, b"[]", "empty_batch"),
        (ECO, b"42", "not_an_object"),
        (ECO, b'{"pm25": 1, "time": "2026-11-23T12:00:00"}', "bad_time"),
        (ECO, b'{"pm25": 1, "time": "yesterday"}', "bad_time"),
        (ECO, b'{"pm25": 1, "time": "2026-11-23T12:06:00Z"}', "time_in_future"),
        (ECO, b'{"pm25": 1, "time": "2024-11-01T12:00:00Z"}', "time_too_old"),
        (ECO, b'{"pm25": 1, "device_id": "eco-2"}', "device_mismatch"),
        (TL, b'{"phase": "purple"}', "wrong_type"),
        (TL, b'{"lamp_fault": true}', "missing_field"),
        (PARK, b'{"total_spot_number": 10, "occupied_spot_number": 11}', "inconsistent"),
        (CAM, b'{"intensity": 3.5}', "wrong_type"),
        ("city/leninsky/submarine/s-1/telemetry", b"{}", "unknown_kind"),
        ("city/leninsky/camera/bad id/telemetry", b"{}", "bad_topic"),
        ("city/leninsky/camera/cam-1\n/telemetry", b"{}", "bad_topic"),
        ("city/leninsky\n/camera/cam-1/telemetry", b"{}", "bad_topic"),
        ("elsewhere/leninsky/camera/c/telemetry", b"{}", "bad_topic"),
        ("city/camera/c/telemetry", b"{}", "bad_topic"),
        (ECO, b"[" * 5000 + b"]" * 5000, "too_deep"),
        (ECO, b'{"pm25": ' * 2000 + b"1" + b"}" * 2000, "too_deep"),
        (ECO, b"[" * 5000, "too_deep"),
    ],
)
def test_bad_input_is_rejected_with_a_precise_reason(
    decoder: Decoder, topic: str, payload: bytes, reason: str
) -> None:
    out = decoder.decode(topic, payload, NOW)
    assert out.readings == ()
    assert [r.reason for r in out.rejections] == [reason]
    assert out.rejections[0].detail


def test_oversized_payload_is_rejected_before_parsing(decoder: Decoder) -> None:
    payload = b'{"pm25": 1, "x": "' + b"a" * (256 * 1024) + b'"}'
    assert reasons(decoder, ECO, payload) == ["payload_too_large"]


def test_payload_size_limit_is_exact(decoder: Decoder) -> None:
    head, tail = b'{"pm25": 1, "time": "', b'"}'
    filler = MAX_PAYLOAD_BYTES - len(head) - len(tail)
    at_limit = head + b" " * filler + tail  # whitespace inside the string: a bad time
    assert len(at_limit) == MAX_PAYLOAD_BYTES
    assert reasons(decoder, ECO, at_limit) == ["bad_time"]  # parsed, not refused for size
    over = head + b" " * (filler + 1) + tail
    out = decoder.decode(ECO, over, NOW)
    assert [r.reason for r in out.rejections] == ["payload_too_large"]
    assert f"{MAX_PAYLOAD_BYTES + 1} bytes" in out.rejections[0].detail


def test_a_smaller_configured_limit_applies() -> None:
    small = Decoder(max_payload=64)
    assert reasons(small, ECO, b'{"pm25": 1}') == []
    assert reasons(small, ECO, b'{"pm25": 1, "pad": "' + b"x" * 64 + b'"}') == ["payload_too_large"]


@settings(max_examples=200, deadline=None)
@given(
    depth=st.integers(1, 3000),
    opener=st.sampled_from([b"[", b'{"pm25": ', b'{"x": ', b'[{"time": ']),
    leaf=st.sampled_from([b"1", b'"a"', b"null", b"{}", b"[]", b"1e999", b""]),
    closed=st.booleans(),
)
def test_nested_json_of_any_depth_gives_a_precise_rejection(
    depth: int, opener: bytes, leaf: bytes, closed: bool
) -> None:
    closer = {b"[": b"]", b'{"pm25": ': b"}", b'{"x": ': b"}", b'[{"time": ': b"}]"}[opener]
    payload = opener * depth + leaf + (closer * depth if closed else b"")
    for topic in (CAM, ECO, TL, PARK, "city/x/ecology/e/status"):
        out = Decoder().decode(topic, payload, NOW)
        assert out.readings or out.rejections or out.status is not None
        assert all(r.reason and r.detail for r in out.rejections)
        if len(payload) <= MAX_PAYLOAD_BYTES and depth > 1024 and closed and leaf:
            assert [r.reason for r in out.rejections] == ["too_deep"]


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES + 4096), fill=st.binary(max_size=8)
)
def test_any_oversized_payload_is_refused_by_size(size: int, fill: bytes) -> None:
    payload = (fill or b"x") * (size // max(1, len(fill or b"x")) + 1)
    payload = payload[:size]
    out = Decoder().decode(ECO, payload, NOW)
    assert [r.reason for r in out.rejections] == ["payload_too_large"]


def test_status_messages(decoder: Decoder) -> None:
    topic = "city/leninsky/camera/cam-1/status"
    out = decoder.decode(topic, b'{"online": false, "reason": "last_will"}', NOW)
    assert out.status is not None
    assert out.status.online is False
    assert out.status.reason == "last_will"
    assert out.status.time == NOW
    assert reasons(decoder, topic, b'{"online": "yes"}') == ["missing_field"]


def test_integral_float_counts_are_accepted(decoder: Decoder) -> None:
    (reading,) = decoder.decode(CAM, b'{"intensity": 12.0}', NOW).readings
    assert isinstance(reading, CameraReading)
    assert reading.intensity == 12


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "time",
                    "pm25",
                    "phase",
                    "intensity",
                    "lane_id",
                    "occupancy",
                    "x",
                    "device_id",
                    "online",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=300))
def test_any_bytes_give_readings_or_rejections(payload: bytes) -> None:
    decoder = Decoder()
    for topic in (CAM, ECO, TL, PARK, "city/x/ecology/e/status", "bad/topic"):
        out = decoder.decode(topic, payload, NOW)
        assert out.readings or out.rejections or out.status is not None
        assert all(r.reason and r.detail for r in out.rejections)


@settings(max_examples=300, deadline=None)
@given(document=json_values)
def test_any_json_gives_valid_readings_or_rejections(document: object) -> None:
    decoder = Decoder()
    payload = json.dumps(document).encode()
    for topic in (CAM, ECO, TL, PARK):
        out = decoder.decode(topic, payload, NOW)
        assert out.readings or out.rejections
        whole = [r for r in out.rejections if r.index is None]
        if isinstance(document, list) and document and not whole:
            assert len(out.readings) + len(out.rejections) == len(document)
        else:
            assert len(out.readings) + len(out.rejections) == 1
        for reading in out.readings:
            assert reading.device_id == topic.split("/")[3]
            assert NOW - timedelta(days=365) <= reading.time <= NOW + timedelta(minutes=5)


def test_shipped_json_schemas_accept_the_documented_examples() -> None:
    """The JSON Schemas in ingest/schemas agree with the decoder on the doc's examples."""
    from pathlib import Path

    import jsonschema

    schemas = Path(__file__).resolve().parents[2] / "ingest" / "schemas"
    examples = {
        "traffic_light": {
            "time": "2026-11-23T08:14:00+03:00",
            "phase": "red",
            "phase_elapsed": 12.5,
        },
        "camera": [{"time": 1795410840000, "lane_id": 1, "intensity": 14, "occupancy": 0.21}],
        "parking": {"total_spot_number": 120, "occupied_spot_number": 87},
        "ecology": {"time": "2026-11-23T05:20:00Z", "pm25": 18.4, "co": 0.6},
    }
    bad = {
        "traffic_light": {"phase": "purple"},
        "camera": {"occupancy": 3},
        "parking": {"occupied_spot_number": -1},
        "ecology": {"pm25": "high"},
    }
    for kind, example in examples.items():
        schema = json.loads((schemas / f"{kind}.json").read_text())
        jsonschema.validate(example, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad[kind], schema)


def test_shipped_json_schemas_are_current() -> None:
    from ingest._schema import SCHEMA_DIR, render

    for kind in DeviceKind:
        shipped = (SCHEMA_DIR / f"{kind.value}.json").read_text(encoding="utf-8")
        assert shipped == render(kind), f"run python -m ingest._schema ({kind.value} is stale)"


def test_the_wire_contract_lists_every_dead_letter_reason() -> None:
    root = Path(__file__).resolve().parents[2]
    source = "\n".join(p.read_text() for p in sorted((root / "ingest").glob("*.py")))
    made = set(re.findall(r"(?:_Bad|Rejection)\(\s*\"([a-z_]+)\"", source))
    made |= set(re.findall(r"reason = \"([a-z_0-9]+)\" if .* else \"([a-z_]+)\"", source)[0])
    table = (root / "docs" / "wire-contract.md").read_text().partition("## Dead letters")[2]
    listed = set(re.findall(r"^\| `([a-z_0-9]+)`(?:, `([a-z_0-9]+)`)? \|", table, re.MULTILINE))
    documented = {name for pair in listed for name in pair if name}
    assert "district_mismatch" in made
    assert made == documented


def test_a_key_given_twice_is_rejected_not_resolved(decoder: Decoder) -> None:
    """JSON parsers disagree on which of two equal keys wins; we take neither."""
    iso = (NOW - timedelta(minutes=1)).isoformat()
    assert reasons(decoder, ECO, b'{"pm25": 1.0, "pm25": 999.0}') == ["duplicate_key"]
    dup_time = f'{{"time": "{iso}", "pm25": 1.0, "time": "{iso}"}}'.encode()
    assert reasons(decoder, ECO, dup_time) == ["duplicate_key"]
    with_time = f'{{"time": "{iso}", "pm25": 1.0, "no2": 2.0, "pm25": 999.0}}'.encode()
    out = decoder.decode(ECO, with_time, NOW)
    assert [(r.reason, r.index) for r in out.rejections] == [("duplicate_key", None)]
    assert "'pm25'" in out.rejections[0].detail
    assert out.readings == ()
    # An escaped colon in a string must not hide a repeated key.
    hidden = (
        f'{{"time": "{iso}", "phase": "red", "phase": "green", "controller_mode": "a\\u003ab"}}'
    )
    assert reasons(decoder, TL, hidden.encode()) == ["duplicate_key"]
    status = "city/leninsky/camera/cam-1/status"
    assert reasons(decoder, status, b'{"online": true, "online": false}') == ["duplicate_key"]


def test_a_repeated_key_rejects_only_its_reading_in_a_batch(decoder: Decoder) -> None:
    iso = (NOW - timedelta(minutes=1)).isoformat()
    batch = f'[{{"time": "{iso}", "pm25": 1}}, {{"pm25": 1, "pm25": 2}}, {{"no2": 3}}]'
    out = decoder.decode(ECO, batch.encode(), NOW)
    assert [(r.reason, r.index) for r in out.rejections] == [("duplicate_key", 1)]
    assert out.rejections[0].detail.startswith("reading 1: ")
    assert [r.pm25 for r in out.readings if isinstance(r, EcologyReading)] == [1.0, None]


def test_colons_in_values_are_not_mistaken_for_keys(decoder: Decoder) -> None:
    iso = (NOW - timedelta(minutes=1)).isoformat()
    for mode in ("a:b", "a\\u003ab:c", "\\\\:"):
        payload = f'{{"time": "{iso}", "phase": "red", "controller_mode": "{mode}"}}'.encode()
        assert reasons(decoder, TL, payload) == []
    nested = b'{"pm25": {"a": 1, "b": {"c": 2}}}'
    assert reasons(decoder, ECO, nested) == ["wrong_type"]


def _json_text(value: object, escape_colons: bool) -> str:
    text = json.dumps(value)
    return text.replace(":", "\\u003a") if escape_colons and isinstance(value, str) else text


@settings(max_examples=300, deadline=None)
@given(
    readings=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["time", "phase", "controller_mode", "lamp_fault", "x:y"]),
                st.sampled_from(
                    ["red", "a:b", "12:00", (NOW - timedelta(minutes=1)).isoformat(), True, 1]
                ),
                st.booleans(),
            ),
            max_size=5,
        ),
        min_size=1,
        max_size=4,
    ),
    as_array=st.booleans(),
)
def test_repeated_keys_are_found_exactly(
    readings: list[list[tuple[str, object, bool]]], as_array: bool
) -> None:
    """Whatever colons, escapes and repeats: duplicate_key exactly where a key repeats."""
    objects = [
        "{" + ", ".join(f"{json.dumps(k)}: {_json_text(v, e)}" for k, v, e in pairs) + "}"
        for pairs in readings
    ]
    if not as_array:
        objects = objects[:1]
    payload = (f"[{', '.join(objects)}]" if as_array else objects[0]).encode()
    repeated = [len({k for k, _, _ in pairs}) != len(pairs) for pairs in readings[: len(objects)]]
    out = Decoder().decode(TL, payload, NOW)
    found = [r.index if as_array else 0 for r in out.rejections if r.reason == "duplicate_key"]
    assert found == [i for i, r in enumerate(repeated) if r]
