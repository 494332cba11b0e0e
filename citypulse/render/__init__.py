"""Pictures as inline SVG strings: time-series charts and the city map.

Product code, so that the report, the console and the weekly analysis draw alike; no
dependencies, no JavaScript, nothing fetched.  The map draws the city from what it knows:
streets through the crossings its devices name (:func:`crossings_of`,
:func:`streets_through`), districts as the areas their devices cover, and markers that
do not hide each other.  HTML pages around them are Jinja2 templates under one policy
(:func:`templates`).
"""

from citypulse.render._bars import Bar, bar_chart, sparkbars
from citypulse.render._charts import (
    PALETTE,
    Band,
    Chart,
    Series,
    Threshold,
    XYSeries,
    legend,
    line_chart,
    nice_ticks,
    series_style,
    xy_chart,
)
from citypulse.render._layout import Crossing, Street, crossings_of, streets_through
from citypulse.render._map import (
    DEVICE_STYLE,
    SHAPES,
    Area,
    MapKey,
    MapPoint,
    device_map,
    device_style,
    in_kind_order,
)
from citypulse.render._templates import templates

__all__ = [
    "DEVICE_STYLE",
    "PALETTE",
    "SHAPES",
    "Area",
    "Band",
    "Bar",
    "Chart",
    "Crossing",
    "MapKey",
    "MapPoint",
    "Series",
    "Street",
    "Threshold",
    "XYSeries",
    "bar_chart",
    "crossings_of",
    "device_map",
    "device_style",
    "in_kind_order",
    "legend",
    "line_chart",
    "nice_ticks",
    "series_style",
    "sparkbars",
    "streets_through",
    "templates",
    "xy_chart",
]
