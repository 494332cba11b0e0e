"""Parameters as the API takes them: each field's text checked (length, no control
characters), numbers, coordinates and dates parsed with a message naming the field, and
``GET requests``' filters as a :class:`RequestQuery`.

Dates follow GeoReport v2: W3C date-times; a range may not span more than 90 days; with
one date alone, the 90 days from it (or up to it); with neither, the last 90 days.  An
empty date is refused rather than read as "no date".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from appeals._errors import ApiError
from appeals._requests import RequestQuery
from appeals._routing import Routing

MAX_ID = 2**63 - 1
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
DEFAULT_WINDOW = timedelta(days=90)  # GeoReport v2: without dates, the last 90 days
MAX_RANGE = timedelta(days=90)  # GeoReport v2: a date range may not span more
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
FIELD_LIMITS = {
    "api_key": 512,
    "service_code": 64,
    "description": 4000,
    "address_string": 500,
    "address_id": 100,
    "email": 254,
    "device_id": 100,
    "account_id": 100,
    "first_name": 100,
    "last_name": 100,
    "phone": 40,
    "media_url": 2048,
    "lat": 40,
    "long": 40,
    "jurisdiction_id": 100,
    "note": 2000,
    "reason": 2000,
}


def text_field(name: str, value: str) -> str:
    limit = FIELD_LIMITS.get(name, 1000 if name.startswith("attribute[") else 200)
    if len(value) > limit:
        raise ApiError(400, f"{name}: at most {limit} characters")
    if CONTROL.search(value):
        raise ApiError(400, f"{name}: control characters are not allowed")
    return value.strip()


def query_params(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in out:
            raise ApiError(400, f"{key}: given more than once")
        out[key] = text_field(key, value)
    return out


def int_param(name: str, raw: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,19}", raw):
        raise ApiError(400, f"{name}: expected an integer, got {raw[:40]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"{name}: must be between {low} and {high}")
    return value


def date_param(name: str, raw: str) -> datetime:
    if not raw:
        raise ApiError(400, f"{name}: empty; give a W3C date-time or leave it out")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, f"{name}: expected a W3C date-time like 2026-11-25T08:14:00+03:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not datetime(1970, 1, 2, tzinfo=UTC) <= value <= datetime(9999, 1, 1, tzinfo=UTC):
        raise ApiError(400, f"{name}: out of range")
    return value


def coordinate(name: str, raw: str, bound: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, f"{name}: expected a number, got {raw[:40]!r}") from None
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise ApiError(400, f"{name}: must be between -{bound:g} and {bound:g}")
    return value


def _flag(params: Mapping[str, str], name: str) -> bool | None:
    if not params.get(name):
        return None
    flag = params[name].lower()
    if flag not in ("true", "false", "1", "0"):
        raise ApiError(400, f"{name}: expected true or false")
    return flag in ("true", "1")


def parse_query(params: Mapping[str, str], routing: Routing) -> RequestQuery:
    """``GET requests`` parameters -> a validated :class:`RequestQuery` (ApiError if bad)."""
    ids: tuple[int, ...] = ()
    if params.get("service_request_id"):
        raw_ids = [p.strip() for p in params["service_request_id"].split(",") if p.strip()]
        if len(raw_ids) > MAX_PAGE_SIZE:
            raise ApiError(400, f"service_request_id: at most {MAX_PAGE_SIZE} ids")
        ids = tuple(int_param("service_request_id", p, 1, MAX_ID) for p in raw_ids)
    codes: tuple[str, ...] = ()
    if params.get("service_code"):
        codes = tuple(c.strip() for c in params["service_code"].split(",") if c.strip())
        for code in codes:
            if routing.service(code) is None:
                raise ApiError(400, f"service_code: unknown service {code[:64]!r}")
    start = date_param("start_date", params["start_date"]) if "start_date" in params else None
    end = date_param("end_date", params["end_date"]) if "end_date" in params else None
    if start is not None and end is not None:
        if end < start:
            raise ApiError(400, "end_date is before start_date")
        if end - start > MAX_RANGE:
            raise ApiError(400, "start_date to end_date: at most 90 days (GeoReport v2)")
    elif start is not None:  # one date alone: the 90 days from it, or up to it
        end = start + MAX_RANGE
    elif end is not None:
        start = end - MAX_RANGE
    elif not ids:
        start = datetime.now(UTC) - DEFAULT_WINDOW
    statuses: tuple[str, ...] = ()
    if params.get("status"):
        statuses = tuple(s.strip() for s in params["status"].split(",") if s.strip())
        bad = [s for s in statuses if s not in ("open", "closed")]
        if bad:
            raise ApiError(400, "status: expected open, closed or both (comma-separated)")
    source = params.get("source") or None
    if source is not None and source not in ("sensor", "citizen", "system"):
        raise ApiError(400, "source: expected sensor, citizen or system")
    sector = params.get("sector") or None
    if sector is not None and sector not in routing.sectors:
        raise ApiError(400, "sector: not one of the sector blocks (see GET services, group)")
    return RequestQuery(
        ids=ids,
        service_codes=codes,
        start=start,
        end=end,
        statuses=statuses,
        source=source,
        sector=sector,
        agency=params.get("agency") or None,
        district=params.get("district") or None,
        external_id=params.get("external_id") or None,
        overdue=_flag(params, "overdue"),
        needs_location=_flag(params, "needs_location"),
        page=int_param("page", params["page"], 1, MAX_PAGE) if params.get("page") else 1,
        page_size=int_param("page_size", params["page_size"], 1, MAX_PAGE_SIZE)
        if params.get("page_size")
        else DEFAULT_PAGE_SIZE,
    )
