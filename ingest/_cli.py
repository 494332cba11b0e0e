"""Store MQTT telemetry in the database; run as many as you like on one broker.

Workers share the stream through the MQTT 5 shared subscription
$share/GROUP/city/+/+/+/telemetry (and .../status).  A message is acknowledged only after
its readings are committed; bad payloads land in dead_letters with the reason.  SIGTERM or
Ctrl-C stops intake, flushes, commits, acknowledges and disconnects; while another worker
of the group is alive, the worker first leaves the group (unsubscribes), stores what its
session holds and ends the session (scaling down).

Give each worker a stable --client-id (its persistent MQTT session survives restarts).
Workers write heartbeats to ingest_sessions; one silent for longer than --takeover-after
has its session taken over by a survivor: drained into the database and ended.
"""

from __future__ import annotations

import argparse
import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from citypulse import (
    FloatRange,
    IntRange,
    Settings,
    non_negative_float,
    positive_float,
    positive_int,
    slug,
    stop_on_signals,
)

if TYPE_CHECKING:
    from ingest._config import IngestConfig

HELP = "store MQTT telemetry in the database"
log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client-id", help="MQTT client id (env CITYPULSE_MQTT_CLIENT_ID)")
    parser.add_argument(
        "--group", help="shared-subscription group (env CITYPULSE_MQTT_SHARE_GROUP)"
    )
    parser.add_argument(
        "--topic-root", type=slug, default="city", help="first topic level (default city)"
    )
    parser.add_argument(
        "--protocol",
        choices=("auto", "5", "3.1.1"),
        default="auto",
        help="MQTT protocol; auto tries 5 then falls back to 3.1.1",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=5000,
        help="most messages per transaction (default 5000)",
    )
    parser.add_argument(
        "--batch-rows",
        type=positive_int,
        default=10_000,
        help="a transaction closes at this many readings too, so that batch payloads keep "
        "both flushers busy (default 10000)",
    )
    parser.add_argument(
        "--batch-age",
        type=positive_float,
        default=0.1,
        help="flush a smaller batch after this many seconds (default 0.1)",
    )
    parser.add_argument(
        "--flushers",
        type=IntRange(1, 16),
        default=2,
        help="batches stored at once, each on its own connection (default 2)",
    )
    parser.add_argument(
        "--receive-maximum",
        type=IntRange(1, 65_535),
        default=20000,
        help="unacknowledged messages the broker may send (MQTT 5)",
    )
    parser.add_argument(
        "--rate-limit",
        type=non_negative_float,
        default=50.0,
        help="readings/s a device may send; the excess is dead-lettered as rate_limited "
        "(default 50; 0 turns the limit off)",
    )
    parser.add_argument(
        "--rate-burst",
        type=FloatRange(1),
        default=5000.0,
        help="readings a device may send at once, e.g. a backlog after an outage (default 5000)",
    )
    parser.add_argument(
        "--statement-timeout",
        type=positive_float,
        default=30.0,
        help="seconds a statement of a batch may take before it is cancelled and retried",
    )
    parser.add_argument(
        "--takeover-after",
        type=non_negative_float,
        default=45.0,
        help="seconds without a heartbeat after which a peer's MQTT session is drained by "
        "this worker and ended (default 45; 0: never take over)",
    )
    parser.add_argument(
        "--unknown-devices",
        choices=("register", "reject"),
        help="what to do with devices not in the registry "
        "(env CITYPULSE_UNKNOWN_DEVICES, default register)",
    )


def build_config(args: argparse.Namespace, settings: Settings) -> IngestConfig:
    from ingest._config import IngestConfig

    return IngestConfig(
        database_url=settings.database_url,
        mqtt=settings.mqtt,
        mqtt_ca_file=settings.mqtt_ca_file,
        client_id=args.client_id or settings.mqtt_client_id,
        worker_id=settings.worker_id,
        share_group=args.group or settings.mqtt_share_group,
        topic_root=args.topic_root,
        protocol=args.protocol,
        unknown_devices=args.unknown_devices or settings.unknown_devices,
        retention=timedelta(days=settings.retention_days or 365),
        batch_size=args.batch_size,
        batch_rows=args.batch_rows,
        max_pending_rows=max(20 * args.batch_rows, 200_000),
        batch_age=args.batch_age,
        flushers=args.flushers,
        rate_limit=args.rate_limit or None,
        rate_burst=args.rate_burst,
        statement_timeout=args.statement_timeout,
        receive_maximum=args.receive_maximum,
        takeover_after=args.takeover_after or None,
        heartbeat_interval=min(5.0, args.takeover_after / 5) if args.takeover_after else 5.0,
        max_pending=max(2 * args.receive_maximum, args.batch_size),
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ingest._worker import IngestWorker

    config = build_config(args, settings)
    stop = threading.Event()
    stop_on_signals(stop.set, f"ingest {config.worker_id}")
    log.info(
        "ingest %s: broker %s, subscriptions %s",
        config.worker_id,
        config.mqtt.url(),
        ", ".join(config.subscriptions),
    )
    if config.mqtt.username and config.mqtt.username != config.client_id:
        log.warning(
            "MQTT client id %s is not the login %s: a broker that binds client ids to logins "
            "(the shipped config) connects this worker as %s",
            config.client_id,
            config.mqtt.username,
            config.mqtt.username,
        )
    with IngestWorker(config) as worker:
        worker.wait(stop)
    return 1 if worker.fatal else 0
