"""Appeals for the governance center and their delivery to external systems.

The appeals side: routing (incident type -> sector block, service, agency, deadline),
texts, :class:`AppealWriter` (an incident listener that writes appeals and outbox rows in
the incident's transaction), correlation with citizen reports, and the Open311 GeoReport
v2 API served by ``citypulse serve``.

The delivery side: a :class:`DeliveryWorker` delivers the ``outbox`` rows through the
configured :class:`Connector` s (``CITYPULSE_CONNECTORS``): :class:`WebhookConnector`
(signed JSON; receivers check it with :func:`verify_webhook`, see docs/webhooks.md) and
:class:`Open311Connector` (GeoReport v2 ``POST requests``, status synced back).
"""

from connectors._api import Api, ApiError
from connectors._appeal_errors import AppealNotFound, AppealsError, RoutingError, TransitionRefused
from connectors._appeals import AppealDraft, create_appeal, load_appeal, transition
from connectors._auth import KeyStore, Principal, add_key, hash_key, revoke_key
from connectors._connector import (
    Connector,
    DeliveryResult,
    RemoteStatus,
    RemoteStatusHandler,
    StatusSource,
)
from connectors._correlate import Correlated, Link, correlate, haversine_m
from connectors._delivery import Backoff, DeliveryCounters, DeliveryWorker, record_remote_status
from connectors._errors import (
    ConnectorError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    WebhookSignatureError,
)
from connectors._georeport import open311_status, service_request
from connectors._http import parse_retry_after
from connectors._listener import appeal_writer
from connectors._open311_client import Open311Connector
from connectors._outbox import OutboxEntry
from connectors._registry import CONNECTOR_FACTORIES, ConnectorFactory, build_connectors
from connectors._requests import Report, RequestQuery, list_requests, submit_report
from connectors._routing import (
    Correlation,
    Route,
    Routing,
    Service,
    load_routing,
    parse_duration,
    parse_routing,
)
from connectors._server import BackgroundService, open_pool, serve, serve_in_thread
from connectors._texts import AppealText, Texts, format_duration, format_number
from connectors._webhook import WebhookConnector, sign_webhook, verify_webhook
from connectors._writer import DASHBOARDS, AppealWriter, grafana_link

__all__ = [
    "CONNECTOR_FACTORIES",
    "DASHBOARDS",
    "Api",
    "ApiError",
    "AppealDraft",
    "AppealNotFound",
    "AppealText",
    "AppealWriter",
    "AppealsError",
    "BackgroundService",
    "Backoff",
    "Connector",
    "ConnectorError",
    "ConnectorFactory",
    "Correlated",
    "Correlation",
    "DeliveryCounters",
    "DeliveryError",
    "DeliveryResult",
    "DeliveryWorker",
    "KeyStore",
    "Link",
    "Open311Connector",
    "OutboxEntry",
    "PermanentDeliveryError",
    "Principal",
    "RemoteStatus",
    "RemoteStatusHandler",
    "Report",
    "RequestQuery",
    "Route",
    "Routing",
    "RoutingError",
    "Service",
    "StatusSource",
    "Texts",
    "TransientDeliveryError",
    "TransitionRefused",
    "WebhookConnector",
    "WebhookSignatureError",
    "add_key",
    "appeal_writer",
    "build_connectors",
    "correlate",
    "create_appeal",
    "format_duration",
    "format_number",
    "grafana_link",
    "hash_key",
    "haversine_m",
    "list_requests",
    "load_appeal",
    "load_routing",
    "open311_status",
    "open_pool",
    "parse_duration",
    "parse_retry_after",
    "parse_routing",
    "record_remote_status",
    "revoke_key",
    "serve",
    "serve_in_thread",
    "service_request",
    "sign_webhook",
    "submit_report",
    "transition",
    "verify_webhook",
]
