"""The tension points dashboard («Точки напряжённости»): where appeals pile up beyond
their normal (sql/0020, written by ``appeals.analysis``'s computation).

Its variables are the points' own: ``sector`` (sector blocks), ``district`` (district
names as appeals store them; a region-wide point, district empty, always shows) and
``kind`` (surge, cluster, recurrence).  A point's explanation is written in Python (the
console and the API show it); here its numbers are shown as they are stored.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dm

from grafana._panels import big_number, grid, new_dashboard, query_variable, ts
from grafana._query import series

#: The points the variables select (``p`` is tension_points).
_SCOPE = """
    p.sector IN ($sector)
    AND (p.district IN ($district) OR p.district = '')
    AND p.kind IN ($kind)
"""
#: A point overlapping the dashboard's time range.
_IN_RANGE = "p.started_at < $__timeTo() AND coalesce(p.ended_at, 'infinity') >= $__timeFrom()"
_MEMBERS = "(SELECT count(*) FROM tension_members m WHERE m.tension_id = p.id)"
_COLUMNS = f"""
    p.id, p.kind, p.sector, p.district, p.service_code, p.device_id,
    round(p.score::numeric, 2) AS score, p.started_at, p.ended_at, p.detected_at,
    (p.facts ->> 'count')::numeric AS appeals_in_window,
    (p.facts ->> 'window_h')::numeric AS window_h,
    concat_ws('–', p.facts ->> 'normal_low', p.facts ->> 'normal_high') AS normal,
    p.facts ->> 'address' AS address, {_MEMBERS} AS member_appeals, p.lat, p.lon
"""


def _variables() -> list[cogbuilder.Builder[dm.VariableModel]]:
    return [
        query_variable(
            "sector",
            "Sector block",
            "Sector blocks of the appeals",
            "SELECT DISTINCT sector FROM appeals WHERE sector <> '' ORDER BY 1",
        ),
        query_variable(
            "district",
            "District",
            "Districts as appeals name them (region-wide points always show)",
            "SELECT DISTINCT district FROM appeals WHERE district <> '' ORDER BY 1",
        ),
        query_variable(
            "kind",
            "Kind",
            "surge, cluster or recurrence",
            "SELECT unnest(ARRAY['surge', 'cluster', 'recurrence']) ORDER BY 1",
        ),
    ]


def tension(zone: str) -> db.Dashboard:
    d = new_dashboard(
        zone,
        "tension",
        "citypulse · Точки напряжённости",
        "Tension points (точки напряжённости): surges of appeals in a sector block and "
        "district against their own weekly-seasonal normal, clusters of one theme in one "
        "place, devices and places coming back within 30 days. The console's "
        "/console/tension page and GET /api/v1/tension explain each in words.",
        (),
    ).variables(list(_variables()))
    d = d.with_panel(
        big_number(
            "Active tension points",
            f"SELECT count(*) AS active FROM tension_points p "
            f"WHERE p.ended_at IS NULL AND {_SCOPE}",
            description="Points not over yet, whatever the time range.",
            steps=((None, "green"), (1, "orange"), (5, "red")),
        )
    )
    for title, kind in (("Surges", "surge"), ("Clusters", "cluster")):
        d = d.with_panel(
            big_number(
                f"{title} in range",
                f"SELECT count(*) AS points FROM tension_points p "
                f"WHERE p.kind = '{kind}' AND {_IN_RANGE} AND {_SCOPE}",
                description=f"Points of kind {kind} active at some time in the range.",
                steps=((None, "blue"),),
            )
        )
    d = d.with_panel(
        big_number(
            "Appeals in points in range",
            f"SELECT count(DISTINCT m.appeal_id) AS appeals FROM tension_points p "
            f"JOIN tension_members m ON m.tension_id = p.id WHERE {_IN_RANGE} AND {_SCOPE}",
            description="Appeals that belong to a point active at some time in the range.",
            steps=((None, "blue"),),
        )
    )
    d = d.with_panel(
        grid(
            "Active tension points",
            f"""
            SELECT {_COLUMNS}
            FROM tension_points p
            WHERE p.ended_at IS NULL AND {_SCOPE}
            ORDER BY p.score DESC, p.started_at DESC
            LIMIT 200
            """,
            description="Every point not over yet, strongest first; score is comparable "
            "within a kind. normal is the cell's usual range for the window (surges).",
        )
    )
    d = d.with_panel(
        ts(
            "Points started, by sector block",
            [
                series(
                    f"""
                    SELECT $__timeGroupAlias(p.started_at, $__interval), p.sector AS metric,
                           count(*) AS points
                    FROM tension_points p
                    WHERE $__timeFilter(p.started_at) AND {_SCOPE}
                    GROUP BY 1, 2
                    ORDER BY 1
                    """
                )
            ],
            unit="short",
            description="New tension points per bucket (by their first appeal's time), "
            "per sector block.",
            min_interval="1h",
            bars=True,
        )
    )
    d = d.with_panel(
        ts(
            "Active points, by kind",
            [
                series(
                    f"""
                    SELECT t AS time, p.kind AS metric, count(p.id) AS active
                    FROM generate_series(date_bin('1 hour', $__timeFrom()::timestamptz,
                                                  '2000-01-01 00:00+00'),
                                         $__timeTo()::timestamptz, interval '1 hour') AS t
                    JOIN tension_points p ON p.started_at <= t
                         AND coalesce(p.ended_at, 'infinity') > t
                    WHERE {_SCOPE}
                    GROUP BY 1, 2
                    ORDER BY 1
                    """
                )
            ],
            unit="short",
            description="Points active at each hour, per kind.",
        )
    )
    d = d.with_panel(
        grid(
            "Top districts",
            f"""
            SELECT CASE WHEN p.district = '' THEN '(region-wide)' ELSE p.district END
                       AS district,
                   count(*) AS points,
                   count(*) FILTER (WHERE p.ended_at IS NULL) AS active,
                   sum({_MEMBERS}) AS appeals,
                   round(max(p.score)::numeric, 2) AS strongest
            FROM tension_points p
            WHERE {_IN_RANGE} AND {_SCOPE}
            GROUP BY 1
            ORDER BY points DESC, appeals DESC
            LIMIT 10
            """,
            description="Districts by tension points active at some time in the range.",
            w=8,
        )
    )
    return d.with_panel(
        grid(
            "Tension points in range",
            f"""
            SELECT {_COLUMNS}
            FROM tension_points p
            WHERE {_IN_RANGE} AND {_SCOPE}
            ORDER BY p.started_at DESC
            LIMIT 500
            """,
            description="Every point active at some time in the range, newest first.",
            w=16,
        )
    )
