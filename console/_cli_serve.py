"""Serve the governance center's API (Open311 GeoReport v2 under /open311/v2/, operators'
actions under /api/v1/, OpenAPI at /openapi.json, /health) and the operators' console
(/console/), and run the background services (outbox delivery, the console's live
updates) in the same process; devices' state is read on the server's own event loop.

Settings: CITYPULSE_DATABASE_URL, CITYPULSE_ROUTING_FILE (default: the shipped
routing.default.yaml), CITYPULSE_CONNECTORS (outbox rows per connector),
CITYPULSE_API_KEYS (bootstrap keys, role:key), CITYPULSE_GRAFANA_URL,
CITYPULSE_SESSION_SECRET (signs console sessions; without it, a random one per process),
CITYPULSE_MQTT_URL (the console reads devices' retained status topics with a read-only
login, citypulse-console in the shipped ACL; unreachable, devices' state shows as stored).
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from citypulse import Settings, positive_int, tcp_port

if TYPE_CHECKING:
    import psycopg_pool

HELP = "serve the Open311 API and the operators' console, and deliver appeals"
log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=tcp_port, default=8311, help="port to listen on")
    parser.add_argument("--pool-size", type=positive_int, default=10, help="database connections")
    parser.add_argument(
        "--max-body", type=positive_int, default=64 * 1024, help="largest request body, bytes"
    )
    parser.add_argument(
        "--max-media",
        type=positive_int,
        default=5 * 1024 * 1024,
        help="largest photo uploaded with a report (media), bytes",
    )
    parser.add_argument(
        "--no-background", action="store_true", help="serve the API only (no delivery worker)"
    )


@dataclass
class _Delivery:
    """The outbox delivery worker as a background service of ``serve``."""

    settings: Settings
    name: str = "delivery"

    def run(self, stop: threading.Event) -> None:
        from connectors import DeliveryWorker

        # httpx logs every request URL at INFO; a webhook URL may carry a token.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        with DeliveryWorker.from_settings(self.settings) as worker:
            worker.run(stop)


def background_services(
    settings: Settings, pool: psycopg_pool.ConnectionPool[Any]
) -> Sequence[Any]:
    """What runs beside the API: the outbox delivery worker, when connectors are configured
    (anything with a ``name`` and ``run(stop)``, see ``appeals.BackgroundService``)."""
    if not settings.connectors:
        log.info("no CITYPULSE_CONNECTORS: appeals are kept here, delivered nowhere")
        return []
    return [_Delivery(settings)]


def run(args: argparse.Namespace, settings: Settings) -> int:
    from appeals import Api, KeyStore, load_routing, open_pool, serve
    from console import Console, Live, Presence, application, session_codec

    routing = load_routing(settings.routing_file)
    keys = KeyStore(bootstrap=settings.api_keys)
    pool = open_pool(settings.database_url, max_size=args.pool_size)
    try:
        api = Api(
            pool=pool,
            routing=routing,
            keys=keys,
            connectors=settings.connectors,
            max_body=args.max_body,
            max_media=args.max_media,
        ).app()
        live = Live(database_url=settings.database_url)
        presence = Presence(
            mqtt=settings.mqtt,
            # its own id: beside an ingest worker on the same host's default id
            client_id=f"{settings.mqtt_client_id}-console",
            ca_file=settings.mqtt_ca_file,
        )
        console = Console(
            pool=pool,
            routing=routing,
            keys=keys,
            codec=session_codec(settings),
            connectors=settings.connectors,
            live=live,
            presence=presence,
        )
        app = application(api, console)
        services = [] if args.no_background else list(background_services(settings, pool))
        services.append(live)  # presence runs on the server's loop: console.lifespan
        log.info(
            "serving on %s:%s (%d services, connectors: %s)",
            args.host,
            args.port,
            len(routing.services),
            ",".join(settings.connectors) or "none",
        )
        serve(app, host=args.host, port=args.port, services=services)
    finally:
        pool.close(timeout=5.0)
    return 0
