"""API keys: generated once, stored only as SHA-256 hashes, each with a role.

Roles, each including the ones before it: ``reporter`` (submit citizens' reports),
``operator`` (accept, progress, resolve, reject, close appeals; limited to its agency when
the key names one), ``admin``.  Keys live in the ``api_keys`` table (``citypulse keys
add``) or come from ``CITYPULSE_API_KEYS`` as ``role:key`` entries (a bare key is a
reporter's); those are hashed on start and the plaintext is not kept.
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

from citypulse import ConfigError, Secret

Role = Literal["reporter", "operator", "admin"]
ROLES: tuple[Role, ...] = ("reporter", "operator", "admin")
_KEY_PREFIX = "cp_"
_LOOKUP = """
SELECT name, role, agency FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL
"""
_INSERT = "INSERT INTO api_keys (name, key_hash, role, agency) VALUES (%s, %s, %s, %s)"
_REVOKE = "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request's key belongs to."""

    name: str
    role: Role
    agency: str | None = None

    def may(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def generate_key() -> str:
    """A new random key (256 bits), shown once and never stored in plaintext."""
    return _KEY_PREFIX + secrets.token_urlsafe(32)


def add_key(
    conn: psycopg.Connection[Any], *, name: str, role: Role, agency: str | None = None
) -> str:
    """Store a new key's hash; return the key itself (the only time it is seen)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key = generate_key()
    conn.execute(_INSERT, (name, hash_key(key), role, agency))
    return key


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
            if role not in ROLES or not key:
                raise ConfigError(
                    "CITYPULSE_API_KEYS", f"entry {i + 1}: expected role:key with role in {ROLES}"
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
