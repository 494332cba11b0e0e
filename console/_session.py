"""Console sessions: a signed, expiring cookie that names the operator and their key's hash.

The cookie holds no secret of its own: the key's SHA-256 (so a revoked key ends its
sessions at the next request), the principal's name, role and agency, when it expires,
and a random session id from which the CSRF token is derived.  It is signed with
HMAC-SHA256 under the console's secret; a cookie that does not verify, or has expired,
is no session at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson

from appeals import Principal, Role

COOKIE = "cp_session"
LOGIN_COOKIE = "cp_login"  # the sign-in form's CSRF token, before there is a session
_ROLES: tuple[Role, ...] = ("reporter", "operator", "admin")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in operator, as the cookie says."""

    name: str
    role: Role
    agency: str | None
    key_hash: bytes
    sid: str
    expires: int  # Unix seconds

    @property
    def principal(self) -> Principal:
        return Principal(name=self.name, role=self.role, agency=self.agency)


class SessionCodec:
    """Signs and verifies session cookies and derives CSRF tokens, under one secret."""

    def __init__(self, *, secret: bytes, max_age_s: int = 8 * 3600) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must be at least 32 bytes")
        self._key = hashlib.sha256(b"citypulse-console-session\0" + secret).digest()
        self.max_age_s = max_age_s

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).digest())

    def issue(self, principal: Principal, key_hash: bytes, *, now: float | None = None) -> str:
        """A cookie value for ``principal``, valid for :attr:`max_age_s`."""
        expires = int(now if now is not None else time.time()) + self.max_age_s
        body = _b64(
            orjson.dumps(
                {
                    "n": principal.name,
                    "r": principal.role,
                    "a": principal.agency,
                    "k": _b64(key_hash),
                    "s": secrets.token_urlsafe(16),
                    "e": expires,
                }
            )
        )
        return f"{body}.{self._sign(body)}"

    def read(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie value carries, or None (missing, forged, expired)."""
        if not value or len(value) > 2048 or not value.isascii() or value.count(".") != 1:
            return None
        body, signature = value.split(".")
        if not hmac.compare_digest(self._sign(body), signature):
            return None
        try:
            data = orjson.loads(_unb64(body))
            session = Session(
                name=str(data["n"]),
                role=data["r"] if data["r"] in _ROLES else "reporter",
                agency=str(data["a"]) if data["a"] else None,
                key_hash=_unb64(str(data["k"])),
                sid=str(data["s"]),
                expires=int(data["e"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= (now if now is not None else time.time()):
            return None
        return session

    def csrf(self, sid: str) -> str:
        """The CSRF token of a session (or of a sign-in form's random id)."""
        return self._sign("csrf:" + sid)

    def check_csrf(self, sid: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(
            self.csrf(sid).encode("utf-8"), token.encode("utf-8")
        )
