"""The sink's connection: an unreachable database is transient (the worker retries), any
other failure to connect is permanent and raised at once (retrying could never help)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest

from citypulse import Device, DeviceKind
from citypulse.db import connect, upsert_devices
from ingest import Decoder, Item, PermanentStoreError, PostgresSink, TransientStoreError
from ingest._sink import text_array
from tests._procs import free_port
from tests._proxy import TcpProxy

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _batch(first: int, last: int) -> list[Item]:
    decoder = Decoder(root="city")
    items = []
    for i in range(first, last):
        topic = "city/centr/camera/cam-1/telemetry"
        t = T0 + timedelta(seconds=i)
        payload = orjson.dumps({"time": t.isoformat(), "lane_id": 1, "intensity": i})
        items.append(Item(i, 1, topic, payload, t, decoder.decode(topic, payload, t)))
    return items


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def _with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rsplit('@', 1)[-1]}"))


def test_an_unreachable_database_is_transient_and_the_next_store_reconnects(
    db_url: str,
) -> None:
    with connect(db_url) as conn:
        upsert_devices(conn, [Device(id="cam-1", kind=DeviceKind.CAMERA)])
        conn.commit()
    refused = _with_port(db_url, free_port())
    with pytest.raises(TransientStoreError):
        PostgresSink(database_url=refused, worker_id="t").__enter__()
    port = urlsplit(db_url).port
    assert port is not None
    with (
        TcpProxy(port) as proxy,
        PostgresSink(database_url=_with_port(db_url, proxy.port), worker_id="t") as sink,
    ):
        assert sink.store(_batch(0, 5)).stored == 5
        proxy.cut()
        with pytest.raises(TransientStoreError):
            sink.store(_batch(5, 10))  # the connection is lost mid-batch
        with pytest.raises(TransientStoreError):
            sink.store(_batch(5, 10))  # and reconnecting fails while the path is cut
        proxy.restore()
        assert sink.store(_batch(5, 10)).stored == 5


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(
            lambda db: f"postgresql://127.0.0.1:{free_port()}/x?sslmode=bogus",
            id="invalid-option-value",
        ),
        pytest.param(lambda db: "postgresql://u@[::1:5432/x", id="malformed-url"),
        pytest.param(lambda db: _with_user(db, "no_such_role"), id="unknown-role"),
        pytest.param(lambda db: cast(Any, None), id="a-bug"),
    ],
)
def test_any_other_connect_failure_is_permanent_and_raised_at_once(
    db_url: str, url: Callable[[str], str]
) -> None:
    sink = PostgresSink(database_url=url(db_url), worker_id="t")
    with pytest.raises(PermanentStoreError) as failed:
        sink.__enter__()
    assert failed.value.__cause__ is not None


def test_an_array_literal_reaches_postgresql_as_the_same_texts_and_times(db_url: str) -> None:
    texts = ["cam-1", "NULL", "", "a,b", "{x}", 'say "hi"', "back\\slash\\", " sp ", "ёж"]
    times = [T0, T0 + timedelta(microseconds=1), T0.astimezone(timezone(timedelta(hours=3)))]
    with connect(db_url) as conn:
        got = conn.execute(
            "SELECT %s::text[], %s::timestamptz[], %s::text[], %s::text[]",
            (text_array(texts), text_array([t.isoformat() for t in times]), text_array([]),
             text_array(["only"])),
        ).fetchone()  # fmt: skip
    assert got == (texts, times, [], ["only"])
