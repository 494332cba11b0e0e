"""Incidents, citizens' reports and other systems' events become routed appeals.

Routing (incident type -> sector block, service, agency, deadline), Russian and English
texts, :class:`AppealWriter` (the incident listener that writes an appeal, its history
and its outbox rows in the incident's transaction; registered with the kernel's hooks as
the ``appeals`` incident listener), correlation with citizens' reports, API keys and
roles, operators' actions (status changes, transfer, notes, duplicates), and the Open311
GeoReport v2 API that ``citypulse serve`` serves.  Delivery of the
outbox rows is ``connectors``' work.
"""

from typing import TYPE_CHECKING

from citypulse import lazy_exports

if TYPE_CHECKING:
    from appeals._actions import add_note, agencies, mark_duplicate, transfer
    from appeals._api import Api
    from appeals._auth import KeyStore, Principal, Role, add_key, hash_key, revoke_key
    from appeals._correlate import Correlated, Link, correlate, haversine_m
    from appeals._errors import (
        ApiError,
        AppealNotFound,
        AppealsError,
        RoutingError,
        ServerStartError,
        TransitionRefused,
    )
    from appeals._facts import format_duration, format_number, format_quantity, format_unit
    from appeals._georeport import open311_status, service_request
    from appeals._listener import appeal_writer
    from appeals._requests import Report, RequestQuery, list_requests, submit_report
    from appeals._routing import (
        Correlation,
        Route,
        Routing,
        Service,
        load_routing,
        parse_duration,
        parse_routing,
    )
    from appeals._server import BackgroundService, open_pool, serve, serve_in_thread
    from appeals._store import (
        AppealDraft,
        create_appeal,
        load_appeal,
        next_statuses,
        record_remote_event,
        transition,
    )
    from appeals._texts import AppealText, Texts
    from appeals._writer import DASHBOARDS, AppealWriter, grafana_link
else:
    __getattr__ = lazy_exports(__name__, __file__)

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
    "Role",
    "Route",
    "Routing",
    "RoutingError",
    "ServerStartError",
    "Service",
    "Texts",
    "TransitionRefused",
    "add_key",
    "add_note",
    "agencies",
    "appeal_writer",
    "correlate",
    "create_appeal",
    "format_duration",
    "format_number",
    "format_quantity",
    "format_unit",
    "grafana_link",
    "hash_key",
    "haversine_m",
    "list_requests",
    "load_appeal",
    "load_routing",
    "mark_duplicate",
    "next_statuses",
    "open311_status",
    "open_pool",
    "parse_duration",
    "parse_routing",
    "record_remote_event",
    "revoke_key",
    "serve",
    "serve_in_thread",
    "service_request",
    "submit_report",
    "transfer",
    "transition",
]
