"""Appeals for the governance center and their delivery to external systems.

The appeals side: routing (incident type -> sector block, service, agency, deadline),
texts, :class:`AppealWriter` (an incident listener that writes appeals and outbox rows in
the incident's transaction), correlation with citizen reports, and the Open311 GeoReport
v2 API served by ``citypulse serve``.
"""

from connectors._api import Api, ApiError
from connectors._appeal_errors import AppealNotFound, AppealsError, RoutingError, TransitionRefused
from connectors._appeals import AppealDraft, create_appeal, load_appeal, transition
from connectors._auth import KeyStore, Principal, add_key, hash_key, revoke_key
from connectors._correlate import Correlated, Link, correlate, haversine_m
from connectors._georeport import open311_status, service_request
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
from connectors._writer import DASHBOARDS, AppealWriter, grafana_link

__all__ = [
    "DASHBOARDS",
    "Api",
    "ApiError",
    "AppealDraft",
    "AppealNotFound",
    "AppealText",
    "AppealWriter",
    "AppealsError",
    "BackgroundService",
    "Correlated",
    "Correlation",
    "KeyStore",
    "Link",
    "Principal",
    "Report",
    "RequestQuery",
    "Route",
    "Routing",
    "RoutingError",
    "Service",
    "Texts",
    "TransitionRefused",
    "add_key",
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
    "parse_routing",
    "revoke_key",
    "serve",
    "serve_in_thread",
    "service_request",
    "submit_report",
    "transition",
]
