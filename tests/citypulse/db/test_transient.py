"""is_transient and connect(): which database failures are worth retrying, judged on real
failures of a real server (and of a port nothing listens on)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from citypulse import DatabaseError, DatabaseUnavailable, MigrationError
from citypulse.db import connect, is_transient
from tests._procs import free_port
from tests._proxy import TcpProxy


def _connect_error(url: str) -> psycopg.Error:
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        return exc
    raise AssertionError(f"{url} connected")


def _with(url: str, *, user: str | None = None, dbname: str | None = None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(
        parts._replace(
            netloc=f"{user}@{host}" if user else parts.netloc,
            path=f"/{dbname}" if dbname else parts.path,
        )
    )


def _refused() -> str:
    return f"postgresql://u@127.0.0.1:{free_port()}/x"


def test_an_unreachable_server_is_transient() -> None:
    assert is_transient(_connect_error(_refused()))
    two = f"postgresql://u@127.0.0.1:{free_port()},127.0.0.1:{free_port()}/x"
    assert is_transient(_connect_error(two))  # every address refused


def test_a_connection_cut_on_the_way_is_transient(db_url: str) -> None:
    port = urlsplit(db_url).port
    assert port is not None
    with TcpProxy(port) as proxy:
        through = db_url.replace(f":{port}/", f":{proxy.port}/")
        with psycopg.connect(through) as conn:
            proxy.cut()
            with pytest.raises(psycopg.OperationalError) as lost:
                conn.execute("SELECT 1")
        assert is_transient(lost.value)
        assert is_transient(_connect_error(through))  # accepted, then closed at once


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(lambda db: _refused() + "?sslmode=bogus", id="invalid-option-value"),
        pytest.param(lambda db: _refused() + "?bogus=1", id="unknown-option"),
        pytest.param(lambda db: "postgresql://u@[::1:5432/x", id="malformed-url"),
        pytest.param(lambda db: _with(db, user="no_such_role"), id="unknown-role"),
        pytest.param(lambda db: _with(db, dbname="no_such_db"), id="unknown-database"),
        pytest.param(
            lambda db: _with(db, user="no_such_role").replace("@", f"@127.0.0.1:{free_port()},", 1),
            id="one-address-refused-the-other-refusing-the-login",
        ),
    ],
)
def test_a_connection_retrying_cannot_help_is_permanent(
    db_url: str, url: Callable[[str], str]
) -> None:
    assert not is_transient(_connect_error(url(db_url)))


def test_statement_failures(db_url: str) -> None:
    with connect(db_url, autocommit=True) as conn, connect(db_url, autocommit=True) as admin:
        conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.errors.UniqueViolation) as duplicate:
            conn.execute("INSERT INTO t VALUES (1)")
        assert not is_transient(duplicate.value)
        with pytest.raises(psycopg.errors.UndefinedTable) as undefined:
            conn.execute("SELECT * FROM no_such_table")
        assert not is_transient(undefined.value)
        conn.execute("SET statement_timeout = 50")
        with pytest.raises(psycopg.errors.QueryCanceled) as cancelled:
            conn.execute("SELECT pg_sleep(1)")
        assert is_transient(cancelled.value)
        admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        with pytest.raises(psycopg.OperationalError) as terminated:
            conn.execute("SELECT 1")
        assert is_transient(terminated.value)


def test_citypulse_errors_and_bugs() -> None:
    assert is_transient(DatabaseUnavailable("down"))
    assert not is_transient(DatabaseError("no row"))
    assert not is_transient(MigrationError(1, "failed"))
    assert not is_transient(TypeError("a bug"))


def test_connect_raises_unavailable_only_when_retrying_can_help(db_url: str) -> None:
    with pytest.raises(DatabaseUnavailable):
        connect(_refused(), connect_timeout=5)
    for url in (_refused() + "?sslmode=bogus", _with(db_url, user="no_such_role")):
        with pytest.raises(DatabaseError) as failed:
            connect(url, connect_timeout=5)
        assert not isinstance(failed.value, DatabaseUnavailable), url


def test_connect_masks_the_password_of_a_malformed_url() -> None:
    url = "postgresql://u:hunter2@[::1:5432/x"
    with pytest.raises(DatabaseError) as failed:
        connect(url)
    assert "hunter2" not in str(failed.value)
