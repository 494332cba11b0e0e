"""The decoder's msgspec fast path gives exactly what the hand-written checks give.

Each payload is decoded twice, with the fast path and without it (``fast=False``, the
reference): the readings, the rejections (reason, detail, index) and the bounding times
must be equal, for valid payloads, for every kind of invalid one, and for random
mutations of both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citypulse import DeviceKind
from ingest import Decoder
from ingest._fast import fast_rows

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
TOPICS = {
    DeviceKind.CAMERA: "city/leninsky/camera/cam-1/telemetry",
    DeviceKind.ECOLOGY: "city/leninsky/ecology/eco:1/telemetry",
    DeviceKind.TRAFFIC_LIGHT: "city/leninsky/traffic_light/tl-1/telemetry",
    DeviceKind.PARKING: "city/leninsky/parking/park-1/telemetry",
}
VALID: dict[DeviceKind, list[bytes]] = {
    DeviceKind.CAMERA: [
        b'{"time":%d,"lane_id":1,"intensity":3,"average_vehicle_speed":42.5,"occupancy":0.25}'
        % (NOW_MS - 60_000),
        b'{"intensity":0,"occupancy":1,"heavy_vehicle_share":0.1,"congested":true}',
        b'{"time":%d,"lane_id":0,"intensity":7}' % NOW_MS,
        b'[{"time":%d,"intensity":1},{"time":%d,"intensity":2,"lane_id":3}]'
        % (NOW_MS - 2000, NOW_MS - 1000),
        b'{ "time" : "2026-11-23T14:59:00+03:00" , "average_vehicle_speed" : 10 }',
        b'{"occupancy":0.5}\n',
    ],
    DeviceKind.ECOLOGY: [
        b'{"time":%d,"pm25":12.5,"pm10":20,"temperature":-3.5,"relative_humidity":0.8}'
        % (NOW_MS - 5000),
        b'{"device_id":"eco:1","co":0.4,"atmospheric_pressure":1013}',
        b'[{"laeq":55},{"laeq":56,"time":"2026-11-23T11:59:59Z"}]',
    ],
    DeviceKind.TRAFFIC_LIGHT: [
        b'{"time":%d,"phase":"green","phase_elapsed":12,"controller_mode":"adaptive"}'
        % (NOW_MS - 1000),
        b'{"phase":"flashing_yellow","lamp_fault":false,"door_open":true,"supply_voltage":230}',
        b'{"phase":"red","controller_mode":"\xd1\x80\xd1\x83\xd1\x87\xd0\xbd\xd0\xbe\xd0\xb9"}',
    ],
    DeviceKind.PARKING: [
        b'{"total_spot_number":40,"occupied_spot_number":40,"out_of_service_slot_number":1}',
        b'{"time":%d,"occupied_spot_number":3}' % (NOW_MS - 10),
    ],
}
INVALID: dict[DeviceKind, list[bytes]] = {
    DeviceKind.CAMERA: [
        b'{"intensity":1,"intensity":2}',  # duplicate_key
        b'[{"intensity":1},{"intensity":2,"occupancy":0.1,"occupancy":0.2}]',
        b'{"intensity":1.0}',  # an integer written as a float: valid, for the reference
        b'{"intensity":null,"occupancy":0.5}',  # null: valid, for the reference
        b'{"lane_id":null,"occupancy":0.5}',  # lane_id defaults to 0
        b'{"lane_id":2}',  # missing_field: no measurement
        b'{"intensity":-1}',
        b'{"occupancy":1.5}',
        b'{"occupancy":"0.5"}',
        b'{"congested":1}',
        b'{"speed":3}',  # unknown_field
        b'{"speed":null,"intensity":3}',  # an unknown field that is null is ignored
        b'{"device_id":"cam-2","intensity":3}',  # device_mismatch
        b'{"device_id":null,"intensity":3}',
        b'{"time":%d,"intensity":3}' % (NOW_MS + 600_000),  # time_in_future
        b'{"time":1000,"intensity":3}',  # time_too_old
        b'{"time":-5,"intensity":3}',
        b'{"time":"2026-11-23 12:00","intensity":3}',  # no offset
        b'{"time":true,"intensity":3}',
        b'{"time":1e400,"intensity":3}',
        b"[]",
        b"[1,2]",
        b'[{"intensity":1},"x"]',
        b'"text"',
        b"42",
        b"null",
        b'{"intensity":1',
        b'{"intensity":1} x',
        b'{"intensity":\xff}',
        b'{"occupancy":NaN}',
        b'{"occupancy":0.5,"x":{"a":1,"a":2}}',
        b'{"occupancy":0.5,"note":"a:b"}',
        b'{"\\u006fccupancy":0.5}',  # an escaped key
    ],
    DeviceKind.ECOLOGY: [
        b'{"pm25":1,"pm25":999}',
        b'{"temperature":61}',
        b'{"device_id":"eco:2","pm10":3}',
        b'{"device_id":"eco:1","pm10":3,"pm10":4}',
    ],
    DeviceKind.TRAFFIC_LIGHT: [
        b'{"phase_elapsed":3}',  # the phase is required
        b'{"phase":null}',
        b'{"phase":"purple"}',
        b'{"phase":"red","controller_mode":""}',
        b'{"phase":"red","controller_mode":"%s"}' % (b"m" * 33),
        b'{"phase":"red","controller_mode":"12:30"}',
        b'{"phase":"red","lamp_fault":"no"}',
    ],
    DeviceKind.PARKING: [
        b'{"total_spot_number":4,"occupied_spot_number":5}',  # inconsistent
        b'{"occupied_spot_number":3.5}',
        b'{"total_spot_number":100001}',
    ],
}


def both(kind: DeviceKind, payload: bytes) -> tuple[object, object]:
    fast = Decoder(retention=timedelta(days=30)).decode(TOPICS[kind], payload, NOW)
    reference = Decoder(retention=timedelta(days=30), fast=False).decode(TOPICS[kind], payload, NOW)
    return fast, reference


@pytest.mark.parametrize(
    ("kind", "payload"),
    [(k, p) for table in (VALID, INVALID) for k, ps in table.items() for p in ps],
)
def test_fast_path_equals_the_reference(kind: DeviceKind, payload: bytes) -> None:
    fast, reference = both(kind, payload)
    assert fast == reference


@pytest.mark.parametrize(("kind", "payload"), [(k, p) for k, ps in VALID.items() for p in ps])
def test_fast_path_takes_valid_payloads(kind: DeviceKind, payload: bytes) -> None:
    device = TOPICS[kind].split("/")[3]
    window = (NOW.timestamp(), 30 * 86400.0, 300.0)
    assert fast_rows(kind, device, payload, NOW, window) is not None


@pytest.mark.parametrize(("kind", "payload"), [(k, p) for k, ps in INVALID.items() for p in ps])
def test_fast_path_leaves_the_rest_to_the_reference(kind: DeviceKind, payload: bytes) -> None:
    device = TOPICS[kind].split("/")[3]
    window = (NOW.timestamp(), 30 * 86400.0, 300.0)
    assert fast_rows(kind, device, payload, NOW, window) is None


_CORPUS = [(k, p) for table in (VALID, INVALID) for k, ps in table.items() for p in ps]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_CORPUS),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from([b"", b":", b",", b'"', b"\\", b"1", b"-", b".", b"null", b"}", b"\xc3"]),
    st.booleans(),
)
def test_mutated_payloads_agree(
    case: tuple[DeviceKind, bytes], at: int, insert: bytes, delete: bool
) -> None:
    kind, payload = case
    i = at % (len(payload) + 1)
    mutated = payload[:i] + insert + payload[i + (1 if delete else 0) :]
    fast, reference = both(kind, mutated)
    assert fast == reference


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["time", "device_id", "lane_id", "intensity", "occupancy", "congested", "other"]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-10, max_value=NOW_MS + 10**6),
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from(["cam-1", "x", "2026-11-23T11:00:00Z", "2026-11-23T11:00:00"]),
        ),
    )
)
def test_random_camera_readings_agree(reading: dict[str, object]) -> None:
    fast, reference = both(DeviceKind.CAMERA, orjson.dumps(reading))
    assert fast == reference


def test_a_time_repeated_or_returned_to_is_read_afresh_each_time() -> None:
    # the fast path reuses the last reading time it built: a batch of lanes at one time,
    # then another time, then the first again, by number and by text, one after another
    t0, t1 = NOW_MS - 5000, NOW_MS - 4000
    payloads = [
        b'[{"time":%d,"lane_id":1,"intensity":1},{"time":%d,"lane_id":2,"intensity":2}]' % (t0, t0),
        b'{"time":%d,"intensity":3}' % t1,
        b'{"time":%d,"intensity":4}' % t0,
        b'{"time":"2026-11-23T11:59:56Z","intensity":5}',
        b'{"time":%d,"intensity":6}' % (t1 + 1),
    ]
    times = []
    for payload in payloads:
        fast, reference = both(DeviceKind.CAMERA, payload)
        assert fast == reference
        times += [r.time for r in fast.readings]  # type: ignore[attr-defined]
    ms = [t0, t0, t1, t0, NOW_MS - 4000, t1 + 1]
    assert times == [datetime.fromtimestamp(m / 1000, UTC) for m in ms]
