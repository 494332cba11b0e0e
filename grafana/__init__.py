"""Dashboards as code: Grafana dashboards for the city's devices, appeals and ingest.

Dashboards are built with grafana-foundation-sdk and written to ``grafana/dashboards/``
(``citypulse grafana build``), provisioned from ``grafana/provisioning/`` or published
over Grafana's HTTP API (``citypulse grafana publish``).  Panels query the
``citypulse-pg`` PostgreSQL data source with Grafana's macros, reading raw readings for
short ranges and the 1-minute or 1-hour rollups for longer ones.
"""

from typing import TYPE_CHECKING

from citypulse import lazy_exports

if TYPE_CHECKING:
    from grafana._build import DASHBOARDS_DIR, build_dashboards, render, write_dashboards
    from grafana._errors import GrafanaError, MacroError, PublishError
    from grafana._links import panel_url
    from grafana._macros import QueryContext, Variable, expand
    from grafana._panels import KIND_DASHBOARD, UIDS
    from grafana._query import DATASOURCE_TYPE, DATASOURCE_UID, PostgresTarget
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "DASHBOARDS_DIR",
    "DATASOURCE_TYPE",
    "DATASOURCE_UID",
    "KIND_DASHBOARD",
    "UIDS",
    "GrafanaError",
    "MacroError",
    "PostgresTarget",
    "PublishError",
    "QueryContext",
    "Variable",
    "build_dashboards",
    "expand",
    "panel_url",
    "render",
    "write_dashboards",
]
