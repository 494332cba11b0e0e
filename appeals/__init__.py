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
    from appeals._auth import (
        KeyStore,
        Principal,
        Role,
        add_key,
        add_system_key,
        hash_key,
        revoke_key,
    )
    from appeals._correlate import Correlated, Link, correlate, haversine_m
    from appeals._errors import (
        ApiError,
        AppealNotFound,
        AppealsError,
        EventConflict,
        RoutingError,
        ServerStartError,
        TransitionRefused,
        UnknownService,
    )
    from appeals._event_store import EventOutcome, EventRecorder, SystemEvent
    from appeals._event_texts import EventFacts, EventTexts
    from appeals._events import parse_event
    from appeals._facts import (
        APPEAL_STATUSES,
        SEVERITIES,
        format_duration,
        format_number,
        format_quantity,
        format_unit,
        plural_ru,
    )
    from appeals._georeport import open311_status, service_request
    from appeals._listener import appeal_writer
    from appeals._requests import (
        Report,
        RequestQuery,
        list_requests,
        report_district,
        submit_report,
    )
    from appeals._routing import (
        Correlation,
        Events,
        EventSource,
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
    from appeals._zones import utc_offset, zone_label
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "APPEAL_STATUSES",
    "DASHBOARDS",
    "SEVERITIES",
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
    "EventConflict",
    "EventFacts",
    "EventOutcome",
    "EventRecorder",
    "EventSource",
    "EventTexts",
    "Events",
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
    "SystemEvent",
    "Texts",
    "TransitionRefused",
    "UnknownService",
    "add_key",
    "add_note",
    "add_system_key",
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
    "parse_event",
    "parse_routing",
    "plural_ru",
    "record_remote_event",
    "report_district",
    "revoke_key",
    "serve",
    "serve_in_thread",
    "service_request",
    "submit_report",
    "transfer",
    "transition",
    "utc_offset",
    "zone_label",
]
