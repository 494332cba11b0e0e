"""The delivery worker against a real webhook receiver and a real PostgreSQL."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from citypulse import Secret
from citypulse.db import connect
from connectors import Backoff, DeliveryWorker, WebhookConnector
from tests._mqtt import wait_for
from tests._procs import free_port
from tests.connectors._receiver import WebhookReceiver
from tests.connectors._rows import enqueue, insert_appeal, outbox_state, pending
from tests.fix_db import PgServer

SECRET = "s3cr3t-for-tests"
FAST = Backoff(base=0.05, cap=0.4)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(db_url, autocommit=True) as c:
        yield c


def worker(db_url: str, url: str, **kwargs: Any) -> DeliveryWorker:
    options: dict[str, Any] = {
        "database_url": db_url,
        "connectors": [WebhookConnector(url=url, secret=Secret(SECRET))],
        "timeout": 1.0,
        "backoff": FAST,
        "poll_interval": 0.05,
        "lease": 10.0,
        "rng": random.Random(7),
    }
    options.update(kwargs)
    return DeliveryWorker(**options)


def test_delivers_signed_once_and_records(db_url: str, conn: psycopg.Connection[Any]) -> None:
    appeal = insert_appeal(conn)
    entry = enqueue(conn, appeal, connector="webhook", key="citypulse-appeal-1-created")
    with WebhookReceiver(SECRET) as rx, worker(db_url, rx.url) as w:
        assert w.run_once() == 1
        assert w.run_once() == 0
    row = outbox_state(conn)[entry]
    assert row["delivered_at"] is not None
    assert row["attempts"] == 1
    assert row["last_status"] == 200
    assert rx.arrivals == {"citypulse-appeal-1-created": 1}
    body = rx.processed["citypulse-appeal-1-created"]
    assert body["event"] == "created"
    assert body["appeal_id"] == appeal
    assert body["appeal"]["service_code"] == "traffic_light"
    assert w.counters.delivered == 1


@pytest.mark.slow
def test_receiver_failing_then_recovering_gets_every_appeal_once(
    db_url: str, conn: psycopg.Connection[Any]
) -> None:
    # The first 24 requests fail in turn with 500, 429 + Retry-After and a lost response.
    faults = ["500", "429", "timeout"]

    def plan(n: int, key: str) -> str:
        return faults[n % 3] if n <= 24 else "ok"

    appeals = [insert_appeal(conn) for _ in range(16)]
    for a in appeals:
        enqueue(conn, a, connector="webhook")
    for a in appeals[::3]:
        enqueue(conn, a, connector="webhook", event="updated")
    total = len(outbox_state(conn))
    with WebhookReceiver(SECRET, plan=plan, stall=2.0) as rx, worker(db_url, rx.url) as w:
        w.start()
        wait_for(lambda: pending(conn) == 0, 90, "every entry delivered")
        counters = w.counters
    state = outbox_state(conn)
    assert all(r["delivered_at"] is not None for r in state.values()), state
    assert set(rx.processed) == {r["idempotency_key"] for r in state.values()}
    assert all(n == 1 for n in rx.processings.values())
    assert len(rx.processed) == total
    # every fault kind happened, and the lost responses made the receiver dedupe
    assert {"500", "429", "timeout"} <= set(rx.actions)
    assert sum(rx.arrivals.values()) > total
    assert counters.retried >= 24
    assert counters.delivered == total
    assert counters.failed_permanent == counters.failed_deadline == 0
    # 'updated' is never processed before its appeal's 'created'
    for a in appeals[::3]:
        assert rx.order.index((a, "created")) < rx.order.index((a, "updated"))
    assert not rx.rejected


@pytest.mark.faults
def test_receiver_down_then_back(db_url: str, conn: psycopg.Connection[Any]) -> None:
    # CI keeps the outage short; CITYPULSE_TEST_WEBHOOK_OUTAGE_S=300 runs the minutes-long
    # outage the reliability issue asks for (backoff capped at 1 s to keep retrying).
    outage = float(os.environ.get("CITYPULSE_TEST_WEBHOOK_OUTAGE_S", "0"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks/citypulse"
    entries = [enqueue(conn, insert_appeal(conn), connector="webhook") for _ in range(5)]
    down_since = time.monotonic()
    with worker(db_url, url, backoff=Backoff(base=0.05, cap=1.0)) as w:
        w.start()
        wait_for(lambda: w.counters.retried >= 10, 30, "retries while the receiver is down")
        time.sleep(max(0.0, outage - (time.monotonic() - down_since)))
        assert pending(conn) == 5
        print(f"receiver down {time.monotonic() - down_since:.0f} s: {w.counters.retried} retries")
        with WebhookReceiver(SECRET, port=port) as rx:
            wait_for(lambda: pending(conn) == 0, 30, "delivery after the receiver is back")
    state = outbox_state(conn)
    assert all(state[e]["delivered_at"] is not None for e in entries)
    assert all(state[e]["attempts"] > 1 for e in entries)
    assert sorted(rx.arrivals.values()) == [1] * 5


def test_permanent_4xx_fails_visibly_and_blocks_later_events(
    db_url: str, conn: psycopg.Connection[Any]
) -> None:
    bad, good = insert_appeal(conn), insert_appeal(conn)
    bad_created = enqueue(conn, bad, connector="webhook", key="bad-created")
    bad_updated = enqueue(conn, bad, connector="webhook", event="updated", key="bad-updated")
    good_created = enqueue(conn, good, connector="webhook", key="good-created")

    def plan(n: int, key: str) -> str:
        return "400" if key.startswith("bad") else "ok"

    with WebhookReceiver(SECRET, plan=plan) as rx, worker(db_url, rx.url) as w:
        while w.run_once():
            pass
        counters = w.counters
    state = outbox_state(conn)
    assert state[good_created]["delivered_at"] is not None
    assert state[bad_created]["failed_at"] is not None
    assert state[bad_created]["attempts"] == 1  # not retried
    assert state[bad_created]["last_status"] == 400
    assert "HTTP 400" in state[bad_created]["last_error"]
    assert state[bad_updated]["failed_at"] is not None
    assert f"earlier delivery {bad_created} failed" in state[bad_updated]["last_error"]
    assert rx.arrivals["bad-updated"] == 0
    assert counters.failed_permanent == 2
    failed = conn.execute(
        "SELECT id, connector, last_error, title FROM outbox_failed ORDER BY id"
    ).fetchall()
    assert [r[0] for r in failed] == [bad_created, bad_updated]
    assert failed[0][3] == "Светофор не работает"


def test_deadline_passed_fails(db_url: str, conn: psycopg.Connection[Any]) -> None:
    late = enqueue(conn, insert_appeal(conn), connector="webhook", deliver_by_s=-1)
    soon = enqueue(conn, insert_appeal(conn), connector="webhook", deliver_by_s=1.5)

    def plan(n: int, key: str) -> str:
        return "500"

    with WebhookReceiver(SECRET, plan=plan) as rx, worker(db_url, rx.url) as w:
        w.start()
        wait_for(lambda: pending(conn) == 0, 20, "both entries failed")
        counters = w.counters
    state = outbox_state(conn)
    assert state[late]["failed_at"] is not None
    assert state[late]["attempts"] == 0
    assert state[late]["last_error"].startswith("deadline passed after 0 attempt(s)")
    assert state[soon]["failed_at"] is not None
    assert state[soon]["attempts"] >= 2
    assert state[soon]["last_error"].startswith("deadline passed after")
    assert "HTTP 500" in state[soon]["last_error"]
    assert state[soon]["last_status"] == 500
    assert counters.failed_deadline == 2
    assert rx.processed == {}


def test_retry_after_is_honoured(db_url: str, conn: psycopg.Connection[Any]) -> None:
    entry = enqueue(conn, insert_appeal(conn), connector="webhook")

    def plan(n: int, key: str) -> str:
        return "429" if n == 1 else "ok"

    with WebhookReceiver(SECRET, plan=plan) as rx, worker(db_url, rx.url) as w:
        assert w.run_once() == 1
        row = conn.execute(
            "SELECT extract(epoch FROM next_attempt_at - now()), last_status FROM outbox"
            " WHERE id = %s",
            (entry,),
        ).fetchone()
        assert row is not None
        assert 0.5 < float(row[0]) <= 1.0  # Retry-After: 1, not the 0.05 s backoff
        assert row[1] == 429
        assert w.run_once() == 0  # not due yet
        wait_for(lambda: w.run_once() == 1, 5, "the retry")
    assert rx.arrivals.most_common() == [(next(iter(rx.arrivals)), 2)]
    assert outbox_state(conn)[entry]["delivered_at"] is not None


def test_two_workers_deliver_each_entry_once(db_url: str, conn: psycopg.Connection[Any]) -> None:
    for _ in range(40):
        enqueue(conn, insert_appeal(conn), connector="webhook")
    with (
        WebhookReceiver(SECRET) as rx,
        # A generous timeout: on a loaded machine a 1 s one expired, the entry waited for
        # its retry after both loops had ended, and the test saw it pending.
        worker(db_url, rx.url, worker_id="w1", timeout=15.0) as w1,
        worker(db_url, rx.url, worker_id="w2", timeout=15.0) as w2,
    ):
        barrier = threading.Barrier(2)

        def drain(w: DeliveryWorker) -> None:
            barrier.wait()
            while w.run_once():
                pass

        threads = [threading.Thread(target=drain, args=(w,)) for w in (w1, w2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        c1, c2 = w1.counters, w2.counters
    assert pending(conn) == 0
    assert len(rx.arrivals) == 40
    assert set(rx.arrivals.values()) == {1}
    assert c1.claimed + c2.claimed == 40
    assert c1.delivered > 0
    assert c2.delivered > 0


def test_clean_shutdown_finishes_in_flight(db_url: str, conn: psycopg.Connection[Any]) -> None:
    entry = enqueue(conn, insert_appeal(conn), connector="webhook")
    started = threading.Event()

    def plan(n: int, key: str) -> str:
        started.set()
        return "timeout"  # processed, answered only after 0.5 s

    with WebhookReceiver(SECRET, plan=plan, stall=0.5) as rx:
        w = worker(db_url, rx.url, timeout=5.0)
        with w:
            w.start()
            assert started.wait(10)
        # close() returned: the in-flight delivery finished and was recorded
        assert outbox_state(conn)[entry]["delivered_at"] is not None
        assert rx.arrivals.total() == 1


def test_a_dead_workers_claim_expires(db_url: str, conn: psycopg.Connection[Any]) -> None:
    from connectors._outbox import claim

    entry = enqueue(conn, insert_appeal(conn), connector="webhook")
    [taken] = claim(conn, connectors=["webhook"], worker="dead", limit=5, lease=0.5)
    assert taken.id == entry
    with WebhookReceiver(SECRET) as rx, worker(db_url, rx.url) as w:
        assert w.run_once() == 0  # leased by the dead worker
        wait_for(lambda: w.run_once() == 1, 10, "the lease to expire")
    row = outbox_state(conn)[entry]
    assert row["delivered_at"] is not None
    assert row["attempts"] == 2
    assert rx.arrivals.total() == 1


def test_cli_deliver_once(
    db_url: str,
    conn: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from citypulse.cli import main

    entries = [enqueue(conn, insert_appeal(conn), connector="webhook") for _ in range(3)]
    with WebhookReceiver(SECRET) as rx:
        monkeypatch.setenv("CITYPULSE_CONNECTORS", "webhook")
        monkeypatch.setenv("CITYPULSE_WEBHOOK_URL", rx.url)
        monkeypatch.setenv("CITYPULSE_WEBHOOK_SECRET", SECRET)
        assert main(["--database-url", db_url, "deliver", "--once"]) == 0
    assert "delivered=3" in capsys.readouterr().out
    state = outbox_state(conn)
    assert all(state[e]["delivered_at"] is not None for e in entries)
    assert len(rx.processed) == 3


@pytest.mark.slow
def test_a_slow_delivery_does_not_hold_back_the_others(
    db_url: str, conn: psycopg.Connection[Any]
) -> None:
    slow = enqueue(conn, insert_appeal(conn), connector="webhook", key="slow")
    others = [enqueue(conn, insert_appeal(conn), connector="webhook") for _ in range(6)]

    def plan(n: int, key: str) -> str:
        return "timeout" if key == "slow" else "ok"  # answered only after 4 s

    with (
        WebhookReceiver(SECRET, plan=plan, stall=4.0) as rx,
        worker(db_url, rx.url, timeout=10.0, concurrency=2) as w,
    ):
        w.start()
        wait_for(
            lambda: all(outbox_state(conn)[e]["delivered_at"] for e in others),
            3.5,
            "the others delivered by the second slot",
        )
        assert outbox_state(conn)[slow]["delivered_at"] is None
        wait_for(lambda: pending(conn) == 0, 10, "the slow one")
    assert rx.arrivals["slow"] == 1


@pytest.mark.slow
@pytest.mark.faults
def test_database_restart_is_waited_out(
    db_url: str, conn: psycopg.Connection[Any], pg_server: PgServer
) -> None:
    if not pg_server.owned:  # as its ingest twin, test_database_restart_mid_stream_loses_nothing
        pytest.skip("needs a PostgreSQL the tests own (CITYPULSE_TEST_DATABASE_URL is set)")
    before = enqueue(conn, insert_appeal(conn), connector="webhook")
    with WebhookReceiver(SECRET) as rx, worker(db_url, rx.url) as w:
        w.start()
        wait_for(lambda: len(rx.processed) == 1, 10, "the first delivery")
        pg_server.stop()
        time.sleep(1.5)  # the worker's rounds fail meanwhile
        pg_server.start()
        with connect(db_url, autocommit=True) as again:
            after = enqueue(again, insert_appeal(again), connector="webhook")
            wait_for(lambda: pending(again) == 0, 30, "delivery after the restart")
            state = outbox_state(again)
        errors = w.counters.errors
    assert state[before]["delivered_at"] is not None
    assert state[after]["delivered_at"] is not None
    assert len(rx.processed) == 2
    assert errors >= 1


def test_a_committed_entry_wakes_an_idle_worker(db_url: str, conn: psycopg.Connection[Any]) -> None:
    with WebhookReceiver(SECRET) as rx, worker(db_url, rx.url, poll_interval=60.0) as w:
        w.start()
        wait_for(lambda: w.counters.claimed == 0 and _listening(conn), 10, "the listener")
        time.sleep(0.2)  # the loop is idle now, waiting up to 60 s
        entry = enqueue(conn, insert_appeal(conn), connector="webhook")
        wait_for(lambda: len(rx.processed) == 1, 5, "delivery woken by NOTIFY")
    assert outbox_state(conn)[entry]["delivered_at"] is not None


def _listening(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = 'citypulse-delivery-listen' AND datname = current_database()"
    ).fetchone()
    return row is not None and row[0] == 1
