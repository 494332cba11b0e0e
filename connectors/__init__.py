"""Appeals for the governance center and their delivery to external systems.

The appeals side: routing (incident type -> sector block, service, agency, deadline),
texts, :class:`AppealWriter` (an incident listener that writes appeals and outbox rows in
the incident's transaction), correlation with citizen reports, and the Open311 GeoReport
v2 API served by ``citypulse serve``.
"""

from connectors._appeal_errors import AppealNotFound, AppealsError, RoutingError, TransitionRefused
from connectors._appeals import AppealDraft, insert_appeal, load_appeal, transition
from connectors._correlate import Correlated, Link, correlate, haversine_m
from connectors._routing import (
    Correlation,
    Route,
    Routing,
    Service,
    load_routing,
    parse_duration,
    parse_routing,
)
from connectors._texts import AppealText, Texts, format_duration, format_number
from connectors._writer import DASHBOARDS, AppealWriter, grafana_link

__all__ = [
    "DASHBOARDS",
    "AppealDraft",
    "AppealNotFound",
    "AppealText",
    "AppealWriter",
    "AppealsError",
    "Correlated",
    "Correlation",
    "Link",
    "Route",
    "Routing",
    "RoutingError",
    "Service",
    "Texts",
    "TransitionRefused",
    "correlate",
    "format_duration",
    "format_number",
    "grafana_link",
    "haversine_m",
    "insert_appeal",
    "load_appeal",
    "load_routing",
    "parse_duration",
    "parse_routing",
    "transition",
]
