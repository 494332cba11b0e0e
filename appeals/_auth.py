"""API keys: generated once, stored only as SHA-256 hashes, each with a role.

Roles, each including the ones before it: ``reporter`` (submit citizens' reports),
``operator`` (accept, progress, resolve, reject, close appeals; limited to its agency when
the key names one), ``admin``.  Apart from them, ``system``: another of the region's
systems, which may submit events (``POST /api/v1/events``) for its one source system and
nothing else, and no other role may.  Keys live in the ``api_keys`` table (``citypulse
keys add``) or come from ``CITYPULSE_API_KEYS`` as ``role:key`` entries (a bare key is a
reporter's); those are hashed on start and the plaintext is not kept.

A system key comes with a signing secret, made with it and printed once beside it: the
key (sent as ``X-Api-Key``) is stored as a hash, the secret (never sent; it signs each
body, see ``citypulse.sign_body``) as given, because checking an HMAC needs it.  Forging
an event takes both, and neither a request log nor a copy of the table has both.  System
keys therefore cannot come from the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row

from citypulse import SLUG_RE, ConfigError, Secret

Role = Literal["reporter", "operator", "admin", "system"]
ROLES: tuple[Role, ...] = ("reporter", "operator", "admin", "system")
_RANKED: tuple[Role, ...] = ("reporter", "operator", "admin")  # each includes the ones before
_KEY_PREFIX = "cp_"
_SIGNING_PREFIX = "cps_"
_LOOKUP = """
SELECT name, role, agency, source_system FROM api_keys
WHERE key_hash = %s AND revoked_at IS NULL
"""
_SIGNING_KEY_QUERY = """
SELECT signing_secret FROM api_keys
WHERE name = %s AND role = 'system' AND revoked_at IS NULL
"""
_INSERT = """
INSERT INTO api_keys (name, key_hash, role, agency, source_system, signing_secret)
VALUES (%s, %s, %s, %s, %s, %s)
"""
_REVOKE = "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request's key belongs to."""

    name: str
    role: Role
    agency: str | None = None
    source_system: str | None = None  # system keys: the one source they speak for

    def may(self, role: Role) -> bool:
        if role == "system" or self.role == "system":  # outside the ranks, both ways
            return self.role == role
        return _RANKED.index(self.role) >= _RANKED.index(role)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def generate_key() -> str:
    """A new random key (256 bits), shown once and never stored in plaintext."""
    return _KEY_PREFIX + secrets.token_urlsafe(32)


def add_key(
    conn: psycopg.Connection[Any], *, name: str, role: Role, agency: str | None = None
) -> str:
    """Store a new key's hash; return the key itself (the only time it is seen)."""
    if role not in _RANKED:
        raise ValueError(f"role must be one of {', '.join(_RANKED)} (system: add_system_key)")
    key = generate_key()
    conn.execute(_INSERT, (name, hash_key(key), role, agency, None, None))
    return key


def add_system_key(
    conn: psycopg.Connection[Any], *, name: str, source_system: str
) -> tuple[str, str]:
    """Store a new ``system`` key for ``source_system``; return the key and its signing
    secret (the only time either is seen)."""
    if not SLUG_RE.match(source_system):
        raise ValueError("source system: letters, digits, _ and - only")
    key, secret = generate_key(), _SIGNING_PREFIX + secrets.token_urlsafe(32)
    conn.execute(_INSERT, (name, hash_key(key), "system", None, source_system, secret))
    return key, secret


def signing_secret(conn: psycopg.Connection[Any], name: str) -> Secret | None:
    """The signing secret of the live system key ``name`` (None when there is none)."""
    row = conn.execute(_SIGNING_KEY_QUERY, (name,)).fetchone()
    return Secret(str(row[0])) if row is not None and row[0] else None


def revoke_key(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute(_REVOKE, (name,)).rowcount > 0


class KeyStore:
    """Looks keys up: the bootstrap keys from the environment first, then the table."""

    def __init__(self, *, bootstrap: Sequence[Secret] = ()) -> None:
        self._memory: dict[bytes, Principal] = {}
        for i, secret in enumerate(bootstrap):
            role, sep, key = secret.value.partition(":")
            if not sep:
                role, key = "reporter", secret.value
            if role not in _RANKED or not key:
                raise ConfigError(
                    "CITYPULSE_API_KEYS",
                    f"entry {i + 1}: expected role:key with role in {_RANKED}"
                    " (system keys are made by citypulse keys add, with their secret)",
                )
            self._memory[hash_key(key)] = Principal(name=f"env-{i + 1}", role=role)

    def lookup(self, conn: psycopg.Connection[Any] | None, key: str) -> Principal | None:
        if not key or len(key) > 512:
            return None
        return self.lookup_hash(conn, hash_key(key))

    def lookup_hash(self, conn: psycopg.Connection[Any] | None, digest: bytes) -> Principal | None:
        """The principal of the key whose :func:`hash_key` is ``digest`` (a console session
        keeps the hash, so a revoked key ends its sessions too); None if unknown or revoked."""
        for known, principal in self._memory.items():
            if hmac.compare_digest(known, digest):
                return principal
        if conn is None:
            return None
        return conn.cursor(row_factory=class_row(Principal)).execute(_LOOKUP, (digest,)).fetchone()
