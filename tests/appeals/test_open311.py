"""Open311 GeoReport v2 completed, over real HTTP: tokens, media uploads, errors in the
path's format, date ranges, ``Allow`` on 405, 415 without a Content-Type."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from citypulse.db import connect
from tests.appeals.test_api import NEAR, V2, _error
from tests.fix_api import API_MAX_MEDIA, LiveApi


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\x00" * 64
    + b"\xff\xd9"
)
WEBP_BODY = b"WEBPVP8L" + struct.pack("<I", 10) + b"\x2f\x00\x00\x00\x00" + b"\x00" * 5
WEBP = b"RIFF" + struct.pack("<I", len(WEBP_BODY)) + WEBP_BODY
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def _form(api: LiveApi, **extra: str) -> dict[str, str]:
    return {"api_key": api.reporter_key, "service_code": "traffic-signal", **NEAR, **extra}


def _xml_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("text/xml"), r.headers
    root = ET.fromstring(r.content)
    assert root.tag == "errors"
    assert root.findtext("error/code") == str(status)
    return root.findtext("error/description") or ""


# --- tokens -----------------------------------------------------------------------------


def test_a_token_names_the_request_it_was_given_for(live_api: LiveApi) -> None:
    with live_api.client() as c:
        r = c.post(f"{V2}/requests.json", data=_form(live_api), headers={"Idempotency-Key": "k1"})
        assert r.status_code == 201, r.text
        created = r.json()[0]
        rid, token = created["service_request_id"], created["token"]
        assert rid
        assert token
        assert token != rid
        got = c.get(f"{V2}/tokens/{token}.json")
        assert got.status_code == 200, got.text
        assert got.json() == [{"service_request_id": rid, "token": token}]
        root = ET.fromstring(c.get(f"{V2}/tokens/{token}.xml").content)
        assert root.tag == "service_requests"
        assert root.findtext("request/service_request_id") == rid
        assert root.findtext("request/token") == token
        # A retried post gets the same request and the same token.
        again = c.post(
            f"{V2}/requests.xml", data=_form(live_api), headers={"Idempotency-Key": "k1"}
        )
        assert again.status_code == 200
        assert ET.fromstring(again.content).findtext("request/token") == token
        # Another post, another token.
        other = c.post(f"{V2}/requests.json", data=_form(live_api)).json()[0]
        assert other["token"] != token
        assert "no token" in _error(c.get(f"{V2}/tokens/{'x' * 22}.json"), 404)
        assert "no token" in _xml_error(c.get(f"{V2}/tokens/{'x' * 22}.xml"), 404)
        assert "token" in _error(c.get(f"{V2}/tokens/a;b.json"), 400)


# --- media ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "declared", "content_type", "ext"),
    [
        ("photo.png", png(), "image/png", "image/png", "png"),
        ("photo.jpg", JPEG, "image/jpeg", "image/jpeg", "jpg"),
        ("photo.webp", WEBP, "image/webp", "image/webp", "webp"),
        ("photo", png(), "application/octet-stream", "image/png", "png"),  # told by its bytes
    ],
    ids=["png", "jpeg", "webp", "untyped"],
)
def test_a_photo_upload_is_stored_and_served_at_media_url(
    live_api: LiveApi, name: str, data: bytes, declared: str, content_type: str, ext: str
) -> None:
    with live_api.client() as c:
        r = c.post(
            f"{V2}/requests.json",
            data=_form(live_api, description="Светофор погас, фото приложено"),
            files={"media": (name, data, declared)},
        )
        assert r.status_code == 201, r.text
        rid = r.json()[0]["service_request_id"]
        request = c.get(f"{V2}/requests/{rid}.json").json()[0]
        assert request["description"] == "Светофор погас, фото приложено"
        media_url = request["media_url"]
        assert media_url.startswith(f"{live_api.url}{V2}/media/")
        assert media_url.endswith(f".{ext}")
        served = c.get(media_url)
        assert served.status_code == 200
        assert served.headers["content-type"] == content_type
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.content == data
        wrong_ext = media_url.rsplit(".", 1)[0] + (".gif")
        assert _error(c.get(wrong_ext), 404)
    with connect(live_api.db_url) as conn:
        row = conn.execute(
            "SELECT content_type, octet_length(data) FROM appeal_media WHERE appeal_id = %s",
            (int(rid),),
        ).fetchone()
        assert row == (content_type, len(data))
        payload = conn.execute(
            "SELECT payload->>'media_url' FROM outbox WHERE appeal_id = %s LIMIT 1", (int(rid),)
        ).fetchone()
        assert payload == (media_url,)  # receivers get the same URL


def test_bad_uploads_get_a_clear_4xx(live_api: LiveApi) -> None:
    with live_api.client() as c:

        def post(status: int, files: object, **extra: str) -> str:
            r = c.post(f"{V2}/requests.json", data=_form(live_api, **extra), files=files)  # type: ignore[arg-type]
            return _error(r, status)

        too_big = png() + b"\x00" * API_MAX_MEDIA
        message = post(413, {"media": ("big.png", too_big, "image/png")})
        assert "media" in message
        assert str(API_MAX_MEDIA) in message
        far_too_big = b"\x00" * (API_MAX_MEDIA * 3)
        assert "larger than" in post(413, {"media": ("huge.png", far_too_big, "image/png")})
        assert "JPEG, PNG or WebP" in post(415, {"media": ("a.gif", GIF, "image/gif")})
        # The declared type alone is not believed.
        assert "JPEG, PNG or WebP" in post(415, {"media": ("a.png", b"<svg/>", "image/png")})
        assert "JPEG, PNG or WebP" in post(415, {"media": ("a.jpg", b"MZ\x90\x00", "image/jpeg")})
        assert "is a PNG" in post(415, {"media": ("a.jpg", png(), "image/jpeg")})
        assert "empty" in post(400, {"media": ("a.png", b"", "image/png")})
        assert "media_url" in post(
            400, {"media": ("a.png", png(), "image/png")}, media_url="https://example.ru/a.jpg"
        )
        assert "one file" in post(
            400,
            [("media", ("a.png", png(), "image/png")), ("media", ("b.png", png(), "image/png"))],
        )
        assert "media" in post(400, {"photo": ("a.png", png(), "image/png")})
        # A bare `media` text is not a file.
        assert "media" in _error(
            c.post(
                f"{V2}/requests.json",
                data=_form(live_api, media="photo.jpg"),
                files={"media_url": (None, "")},
            ),
            400,
        )
        assert "multipart" in _error(
            c.post(
                f"{V2}/requests.json",
                content=b"--x\r\nnonsense",
                headers={"content-type": "multipart/form-data"},  # no boundary
            ),
            400,
        )
        # Operators' actions take no files.
        assert _error(
            c.post(
                "/api/v1/appeals/1/accept",
                data={"note": "n"},
                files={"media": ("a.png", png(), "image/png")},
                headers={"X-Api-Key": live_api.operator_key},
            ),
            400,
        )
        assert "no media" in _error(c.get(f"{V2}/media/{'a' * 22}.png"), 404)
    with connect(live_api.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM appeal_media").fetchone() == (0,)


def test_a_multipart_post_without_a_file_and_media_url_as_a_field(live_api: LiveApi) -> None:
    with live_api.client() as c:
        r = c.post(
            f"{V2}/requests.json",
            data=_form(live_api, media_url="https://example.ru/photo.jpg"),
            files={"unused": (None, "")},  # makes httpx send multipart/form-data
        )
        assert r.status_code == 201, r.text
        assert r.request.headers["content-type"].startswith("multipart/form-data")
        rid = r.json()[0]["service_request_id"]
        assert c.get(f"{V2}/requests/{rid}.json").json()[0]["media_url"] == (
            "https://example.ru/photo.jpg"
        )


# --- errors in the path's format, Allow, 415 -------------------------------------------


def test_errors_come_in_the_format_the_path_asks_for(live_api: LiveApi) -> None:
    with live_api.client() as c:
        assert _xml_error(c.get(f"{V2}/nothing.xml"), 404)
        assert _xml_error(c.get(f"{V2}/requests/1/extra.xml"), 404)
        assert _xml_error(c.get("/nothing.xml"), 404)
        assert _xml_error(c.delete(f"{V2}/requests.xml"), 405)
        assert _xml_error(c.put(f"{V2}/tokens/abc.xml"), 405)
        assert _xml_error(c.get(f"{V2}/requests.xml", params={"start_date": ""}), 400)
        assert _error(c.get(f"{V2}/nothing.json"), 404)
        assert _error(c.get(f"{V2}/nothing"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", f"{V2}/requests.json", {"GET", "HEAD", "POST"}),
        ("PUT", f"{V2}/requests.xml", {"GET", "HEAD", "POST"}),
        ("POST", f"{V2}/services.json", {"GET", "HEAD"}),
        ("DELETE", f"{V2}/services/waste.json", {"GET", "HEAD"}),
        ("POST", f"{V2}/requests/1.json", {"GET", "HEAD"}),
        ("POST", f"{V2}/tokens/abc.json", {"GET", "HEAD"}),
        ("DELETE", f"{V2}/media/abc.png", {"GET", "HEAD"}),
        ("POST", "/health", {"GET", "HEAD"}),
        ("PUT", "/api/v1/appeals/1", {"GET", "HEAD"}),
        ("GET", "/api/v1/appeals/1/accept", {"POST"}),
    ],
)
def test_every_405_says_what_is_allowed(
    live_api: LiveApi, method: str, path: str, allow: set[str]
) -> None:
    with live_api.client() as c:
        r = c.request(method, path)
        assert r.status_code == 405, r.text
        assert {m.strip() for m in r.headers["allow"].split(",")} == allow


def test_a_body_without_a_supported_content_type_gets_415(live_api: LiveApi) -> None:
    form = f"service_code=waste&lat=54.5070&long=36.2482&api_key={live_api.reporter_key}"
    with live_api.client() as c:
        r = c.post(f"{V2}/requests.json", content=form.encode())
        assert "content-type" not in r.request.headers
        message = _error(r, 415)
        assert "multipart/form-data" in message
        assert "application/json" in message
        r = c.post(
            "/api/v1/appeals/1/accept",
            content=b"note=x",
            headers={"X-Api-Key": live_api.operator_key},
        )
        assert _error(r, 415)
        r = c.post(f"{V2}/requests.json", content=b"{}", headers={"content-type": "text/plain"})
        assert _error(r, 415)
        # No body needs no type: an action without a note.
        assert _error(
            c.post("/api/v1/appeals/424242/accept", headers={"X-Api-Key": live_api.operator_key}),
            404,
        )


# --- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_date": ""}, "start_date: empty"),
        ({"end_date": "  "}, "end_date: empty"),
        ({"start_date": "2026-11-25T08:14:00+03:00", "end_date": ""}, "end_date: empty"),
        ({"start_date": "yesterday"}, "start_date: expected a W3C date-time"),
        ({"end_date": "2026-02-30T00:00:00Z"}, "end_date: expected a W3C date-time"),
        (
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"},
            "at most 90 days",
        ),
        (
            {"start_date": "2026-11-25T00:00:00Z", "end_date": "2026-11-24T23:59:59Z"},
            "end_date is before start_date",
        ),
    ],
)
def test_bad_date_ranges_get_400(live_api: LiveApi, params: dict[str, str], message: str) -> None:
    with live_api.client() as c:
        assert message in _error(c.get(f"{V2}/requests.json", params=params), 400)


def test_date_ranges_up_to_90_days_and_one_sided_ones(live_api: LiveApi) -> None:
    with live_api.client() as c:
        r = c.post(f"{V2}/requests.json", data=_form(live_api))
        assert r.status_code == 201
        rid = r.json()[0]["service_request_id"]
        now = datetime.now(UTC).replace(microsecond=0)

        def ids(**params: str) -> list[str]:
            got = c.get(f"{V2}/requests.json", params=params)
            assert got.status_code == 200, got.text
            return [x["service_request_id"] for x in got.json()]

        start = now - timedelta(days=89)
        assert ids(start_date=start.isoformat(), end_date=(start + timedelta(days=90)).isoformat())
        assert ids(start_date=(now - timedelta(hours=1)).isoformat()) == [rid]
        assert ids(end_date=(now + timedelta(hours=1)).isoformat()) == [rid]
        # One date alone spans the 90 days from (or to) it, as a range without dates does.
        assert ids(start_date=(now - timedelta(days=91)).isoformat()) == []
        assert ids(end_date=(now + timedelta(days=91)).isoformat()) == []
