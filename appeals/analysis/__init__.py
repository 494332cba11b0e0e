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
        last_full_week,
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
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "MIN_RANKED",
    "Rating",
    "RatingBy",
    "SensorsFirst",
    "TensionKind",
    "TensionPoint",
    "TensionQuery",
    "last_full_week",
    "load_points",
    "rating_payload",
    "ratings",
    "sensors_first",
    "sensors_first_by_sector",
    "sensors_first_figures",
    "sensors_first_payload",
]
