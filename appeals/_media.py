"""Photos citizens attach to a report: a multipart ``media`` upload, checked, stored and
served back at the request's ``media_url``.

An upload is taken when its bytes are a JPEG, PNG or WebP image (a declared image type
must agree with them; the declared type alone is never believed) of at most the API's
``max_media`` bytes.  It is kept in ``appeal_media`` under a random key, in the report's
transaction, and served at ``/open311/v2/media/{key}.{jpg|png|webp}`` with its type,
which browsers are told not to second-guess.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Scope

from appeals._errors import ApiError

MAX_MEDIA = 5 * 1024 * 1024
MEDIA_PATH = "/open311/v2/media/"
IMAGE_TYPES: Mapping[str, str] = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
_UNTYPED = ("", "application/octet-stream", "binary/octet-stream")
_NAME = re.compile(r"([A-Za-z0-9_-]{16,64})\.(jpg|png|webp)")
_INSERT = """
INSERT INTO appeal_media (key, appeal_id, content_type, data, sha256)
VALUES (%s, %s, %s, %s, %s)
"""
_SELECT = "SELECT content_type, data FROM appeal_media WHERE key = %s"


@dataclass(frozen=True, slots=True)
class Media:
    """A checked image: its type (told by its bytes) and the bytes."""

    content_type: str
    data: bytes

    @property
    def extension(self) -> str:
        return IMAGE_TYPES[self.content_type]


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart body, not yet checked."""

    field: str
    content_type: str
    data: bytes


def sniff(data: bytes) -> str | None:
    """The image type ``data`` starts like (its magic bytes), if one we take."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 16 and data[:4] == b"RIFF" and data[8:15] == b"WEBPVP8":
        return "image/webp"
    return None


def check_media(data: bytes, declared: str, limit: int) -> Media:
    """``data`` as a :class:`Media`, or ApiError: 400 empty, 413 too big, 415 not an image
    we take or not the type it was declared as."""
    if not data:
        raise ApiError(400, "media: the file is empty")
    if len(data) > limit:
        raise ApiError(413, f"media: at most {limit} bytes, this file has {len(data)}")
    kind = sniff(data)
    if kind is None:
        raise ApiError(415, "media: send a JPEG, PNG or WebP image")
    said = declared.split(";", 1)[0].strip().lower()
    said = _ALIASES.get(said, said)
    if said not in _UNTYPED and said != kind:
        raise ApiError(415, f"media: declared as {said[:60]}, but the file is a {_NAMES[kind]}")
    return Media(kind, data)


def media_from(fields: Mapping[str, str], uploads: Sequence[Upload], *, limit: int) -> Media | None:
    """The one photo a report may carry, checked (ApiError if anything else was sent)."""
    if fields.get("media"):
        raise ApiError(400, "media: send the photo as a file (multipart/form-data)")
    if not uploads:
        return None
    if {u.field for u in uploads} != {"media"}:
        raise ApiError(400, "files: only media may be a file (a JPEG, PNG or WebP photo)")
    if len(uploads) > 1:
        raise ApiError(400, "media: one file at most")
    if fields.get("media_url"):
        raise ApiError(400, "media and media_url: give one or the other")
    return check_media(uploads[0].data, uploads[0].content_type, limit)


async def parse_multipart(
    scope: Scope, body: bytes, *, max_fields: int, max_part_size: int
) -> tuple[dict[str, str], list[Upload]]:
    """A multipart/form-data ``body`` (already read, so its size was limited) as its text
    fields (the first of a repeated name) and its file parts; ApiError 400 if malformed."""

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request(scope, replay)
    try:
        form = await request.form(
            max_files=max_fields, max_fields=max_fields, max_part_size=max_part_size
        )
    except HTTPException as exc:  # Starlette's parser refusing the body, inside an app
        raise ApiError(400, f"body: not valid multipart/form-data ({exc.detail})") from None
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                uploads.append(Upload(key, value.content_type or "", await value.read()))
            else:
                fields.setdefault(key, value)
    finally:
        await form.close()
    return fields, uploads


def new_key() -> str:
    """A random media key (128 bits): media URLs cannot be enumerated."""
    return secrets.token_urlsafe(16)


def media_path(key: str, media: Media) -> str:
    return f"{MEDIA_PATH}{key}.{media.extension}"


def store_media(conn: psycopg.Connection[Any], key: str, appeal_id: int, media: Media) -> None:
    digest = hashlib.sha256(media.data).digest()
    conn.execute(_INSERT, (key, appeal_id, media.content_type, media.data, digest))


def load_media(conn: psycopg.Connection[Any], name: str) -> Media | None:
    """The media stored under ``name`` (``key.ext``, the extension its type's), if any."""
    found = _NAME.fullmatch(name)
    if found is None:
        return None
    row = conn.cursor(row_factory=dict_row).execute(_SELECT, (found[1],)).fetchone()
    if row is None:
        return None
    media = Media(row["content_type"], bytes(row["data"]))
    return media if media.extension == found[2] else None


def media_response(media: Media) -> Response:
    """The image's bytes with its type; never sniffed, never run, cached for good (a key
    names one image forever)."""
    return Response(
        media.data,
        media_type=media.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
