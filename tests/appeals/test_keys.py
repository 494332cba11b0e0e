"""API keys: printed once, stored as SHA-256 hashes only, revocable; bootstrap keys too."""

from __future__ import annotations

import hashlib

import pytest

from appeals._auth import KeyStore, add_key
from citypulse import ConfigError, Secret
from citypulse.cli import main
from citypulse.db import connect


def test_cli_prints_a_key_once_and_stores_only_its_hash(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--database-url", db_url, "keys", "add", "--name", "ЦУР оператор", "--role", "operator"]
    assert main(args) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("cp_")
    assert len(key) > 40
    assert main(args) == 1  # the name is taken
    assert "exists" in capsys.readouterr().err
    store = KeyStore()
    with connect(db_url) as conn:
        rows = conn.execute("SELECT name, key_hash, role, t::text FROM api_keys AS t").fetchall()
        assert len(rows) == 1
        name, key_hash, role, whole_row = rows[0]
        assert (name, role) == ("ЦУР оператор", "operator")
        assert bytes(key_hash) == hashlib.sha256(key.encode()).digest()
        assert key not in whole_row
        assert key.encode() not in bytes(key_hash)
        principal = store.lookup(conn, key)
        assert principal is not None
        assert principal.role == "operator"
        assert store.lookup(conn, key + "x") is None
        assert store.lookup(conn, "") is None
    assert main(["--database-url", db_url, "keys", "revoke", "--name", "ЦУР оператор"]) == 0
    assert main(["--database-url", db_url, "keys", "revoke", "--name", "ЦУР оператор"]) == 1
    with connect(db_url) as conn:
        assert store.lookup(conn, key) is None


def test_roles_include_the_lesser_ones(db_url: str) -> None:
    with connect(db_url) as conn:
        admin = add_key(conn, name="a", role="admin")
        reporter = add_key(conn, name="r", role="reporter")
        store = KeyStore()
        a, r = store.lookup(conn, admin), store.lookup(conn, reporter)
    assert a is not None
    assert r is not None
    assert a.may("operator")
    assert a.may("reporter")
    assert r.may("reporter")
    assert not r.may("operator")


def test_bootstrap_keys_from_the_environment_are_hashed_in_memory() -> None:
    store = KeyStore(bootstrap=(Secret("operator:s3cret-op"), Secret("plain-reporter-key")))
    op = store.lookup(None, "s3cret-op")
    rep = store.lookup(None, "plain-reporter-key")
    assert op is not None
    assert op.role == "operator"
    assert rep is not None
    assert rep.role == "reporter"
    assert store.lookup(None, "operator:s3cret-op") is None
    assert "s3cret-op" not in repr(vars(store))
    with pytest.raises(ConfigError, match="CITYPULSE_API_KEYS"):
        KeyStore(bootstrap=(Secret("boss:key"),))
