"""The agencies' ratings as JSON (operator key, read-only)::

    GET /api/v1/ratings?since=&until=&by=agency|sector

``since`` and ``until`` are dates (``2026-11-23``: midnight in the region's zone) or
W3C date-times; without them, the last full ISO week in the region's zone.  The answer
holds the period, the ratings best first (see ``appeals.analysis._ratings`` for every
figure and the score) and the sensors-first figures, overall and per sector block.
``appeals._api`` adds the route, importing this module when it builds the application.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from starlette.requests import Request
from starlette.responses import Response

from appeals._api import Api, _json
from appeals._errors import ApiError
from appeals._params import date_param, query_params
from appeals.analysis import (
    RatingBy,
    last_full_week,
    rating_payload,
    ratings,
    sensors_first_figures,
    sensors_first_payload,
)

#: The longest period one request may ask for.
MAX_PERIOD = timedelta(days=366)


def period_param(name: str, raw: str, zone: ZoneInfo) -> datetime:
    """A date (midnight in ``zone``) or a date-time (in ``zone`` when it names none)."""
    if len(raw) == 10 and raw[4:5] == "-":
        raw += "T00:00:00"
    value = date_param(name, raw)
    if datetime.fromisoformat(raw).tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def parse_period(
    params: dict[str, str], zone: ZoneInfo, now: datetime
) -> tuple[datetime, datetime, RatingBy]:
    """``since``, ``until`` and ``by`` from a query (ApiError 400 when wrong)."""
    unknown = sorted(set(params) - {"since", "until", "by", "api_key"})
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown parameter; since, until and by are")
    try:
        by = RatingBy(params.get("by", "agency"))
    except ValueError:
        raise ApiError(400, "by: agency or sector") from None
    monday = last_full_week(now, zone)
    week = tuple(datetime.combine(monday + timedelta(days=d), time(), zone) for d in (0, 7))
    since = period_param("since", params["since"], zone) if "since" in params else week[0]
    until = period_param("until", params["until"], zone) if "until" in params else None
    if until is None:
        until = week[1] if "since" not in params else since + timedelta(days=7)
    if until <= since:
        raise ApiError(400, "until: must be after since")
    if until - since > MAX_PERIOD:
        raise ApiError(400, "until: a period of at most 366 days")
    return since, until, by


async def get_ratings(api: Api, request: Request) -> Response:
    params = query_params(request)
    await api._principal(request, "operator", params)
    since, until, by = parse_period(params, api.routing.zone, datetime.now(UTC))

    def read(conn: psycopg.Connection[Any]) -> dict[str, Any]:
        rows = ratings(conn, since, until, by=by)
        overall, by_sector = sensors_first_figures(conn, since, until)
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "by": by.value,
            "ratings": [rating_payload(r) for r in rows],
            "sensors_first": sensors_first_payload(overall),
            "sensors_first_by_sector": {
                sector: sensors_first_payload(f) for sector, f in by_sector.items()
            },
        }

    return _json(await api._db(read))
