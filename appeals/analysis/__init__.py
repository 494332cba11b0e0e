"""What the governance center does with its appeals beyond routing them.

Tension points (точки напряжённости: surges of appeals in a sector block and district
against their own weekly-seasonal normal, clusters of one theme in one place, places
and devices that keep coming back), agencies' ratings and the weekly analysis.  The
computation reads the appeals table (citizens', sensors' and other systems' appeals
alike) and keeps its findings in ``tension_points`` (sql/0020); the console, the API, the
weekly report and the dashboards read them from there.
"""

from typing import TYPE_CHECKING

from citypulse import lazy_exports

if TYPE_CHECKING:
    from appeals.analysis._ratings import (
        MIN_RANKED,
        Rating,
        RatingBy,
        SensorsFirst,
        rating_payload,
        ratings,
        sensors_first,
        sensors_first_by_sector,
        sensors_first_figures,
        sensors_first_payload,
    )
    from appeals.analysis._records import (
        TensionKind,
        TensionPoint,
        TensionQuery,
        load_points,
    )
    from appeals.analysis._tension import TensionConfig, TensionUpdate, update_tension
    from appeals.analysis._tension_scope import agency_points
    from appeals.analysis._tension_texts import explain
    from appeals.analysis._weekly import (
        DayCounts,
        Figure,
        Trend,
        WeeklyReport,
        last_full_week,
        weekly_report,
    )
    from appeals.analysis._weekly_html import WEEKLY_CSS, render_week, render_week_body
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "MIN_RANKED",
    "WEEKLY_CSS",
    "DayCounts",
    "Figure",
    "Rating",
    "RatingBy",
    "SensorsFirst",
    "TensionConfig",
    "TensionKind",
    "TensionPoint",
    "TensionQuery",
    "TensionUpdate",
    "Trend",
    "WeeklyReport",
    "agency_points",
    "explain",
    "last_full_week",
    "load_points",
    "rating_payload",
    "ratings",
    "render_week",
    "render_week_body",
    "sensors_first",
    "sensors_first_by_sector",
    "sensors_first_figures",
    "sensors_first_payload",
    "update_tension",
    "weekly_report",
]
