"""Pictures as inline SVG strings: time-series charts and the city map.

Product code, so that the report, the console and the weekly analysis draw alike; no
dependencies, no JavaScript, nothing fetched.
"""

from citypulse.render._charts import (
    PALETTE,
    Chart,
    Series,
    Threshold,
    legend,
    line_chart,
    nice_ticks,
)
from citypulse.render._map import MapPoint, device_map

__all__ = [
    "PALETTE",
    "Chart",
    "MapPoint",
    "Series",
    "Threshold",
    "device_map",
    "legend",
    "line_chart",
    "nice_ticks",
]
