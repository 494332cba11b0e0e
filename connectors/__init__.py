"""Delivery of appeals to the governance center's systems, through the outbox.

``appeals`` writes one outbox row per configured connector in the appeal's own
transaction; a :class:`DeliveryWorker` delivers them through the configured
:class:`Connector` s (``CITYPULSE_CONNECTORS``): :class:`WebhookConnector` (signed JSON;
receivers check it with :func:`verify_webhook`, see docs/webhooks.md) and
:class:`Open311Connector` (GeoReport v2 ``POST requests``, status synced back).
"""

from typing import TYPE_CHECKING

from citypulse import lazy_exports

if TYPE_CHECKING:
    from connectors._connector import (
        Connector,
        DeliveryResult,
        RemoteStatus,
        RemoteStatusHandler,
        StatusSource,
    )
    from connectors._delivery import Backoff, DeliveryCounters, DeliveryWorker, record_remote_status
    from connectors._errors import (
        ConnectorError,
        DeliveryError,
        PermanentDeliveryError,
        TransientDeliveryError,
        WebhookSignatureError,
    )
    from connectors._http import parse_retry_after
    from connectors._open311_client import Open311Connector
    from connectors._outbox import OutboxEntry
    from connectors._registry import CONNECTOR_FACTORIES, ConnectorFactory, build_connectors
    from connectors._webhook import WebhookConnector, sign_webhook, verify_webhook
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "CONNECTOR_FACTORIES",
    "Backoff",
    "Connector",
    "ConnectorError",
    "ConnectorFactory",
    "DeliveryCounters",
    "DeliveryError",
    "DeliveryResult",
    "DeliveryWorker",
    "Open311Connector",
    "OutboxEntry",
    "PermanentDeliveryError",
    "RemoteStatus",
    "RemoteStatusHandler",
    "StatusSource",
    "TransientDeliveryError",
    "WebhookConnector",
    "WebhookSignatureError",
    "build_connectors",
    "parse_retry_after",
    "record_remote_status",
    "sign_webhook",
    "verify_webhook",
]
