"""Applies ``sql/NNNN_name[.mode].sql`` in order, one transaction each, with checksums.

A version is either one common file (``0001_core.sql``) or a pair of mode variants
(``0002_readings.plain.sql`` and ``0002_readings.timescale.sql``).  The mode is chosen
once, at the first migration, and recorded; later runs follow it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, cast

import psycopg
from psycopg.rows import TupleRow, class_row, scalar_row

from citypulse._errors import MigrationError, SchemaModeError
from citypulse.db._connect import scalar

log = logging.getLogger(__name__)

Mode = Literal["timescale", "plain"]
Variant = Literal["common", "plain", "timescale"]
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(plain|timescale))?\.sql\Z")
_LOCK_KEY = 7_412_903_301  # pg_advisory_lock key held while migrating
#: Unique indexes of the server-wide role catalogs: a migration of another database
#: creating the same role or membership at the same moment violates them (see _apply).
_SHARED_INDEXES = frozenset({"pg_authid_rolname_index", "pg_auth_members_role_member_index"})
_SHARED_RACE_ATTEMPTS = 3

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    variant     text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""
_LEDGER_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"
_APPLIED = "SELECT version, name, variant, checksum FROM schema_migrations ORDER BY version"
_RECORD = "INSERT INTO schema_migrations (version, name, variant, checksum) VALUES (%s, %s, %s, %s)"
_TIMESCALE_READY = """
SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb')
   AND current_setting('shared_preload_libraries') ~ 'timescaledb'
"""
_TIMESCALE_VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
_POLICIES = "SELECT policy, setting, enforced_by FROM schema_policies"


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    variant: Variant
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        suffix = "" if self.variant == "common" else f".{self.variant}"
        return f"{self.version:04d}_{self.name}{suffix}.sql"


@dataclass(frozen=True, slots=True)
class _Applied:
    """One row of the ``schema_migrations`` ledger, as ``_APPLIED`` selects it."""

    version: int
    name: str
    variant: str
    checksum: str


@dataclass(frozen=True, slots=True)
class MigrationReport:
    mode: Mode
    applied: tuple[Migration, ...]
    already: int


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    mode: Mode | None
    timescale_version: str | None
    timescale_available: bool
    applied: tuple[tuple[int, str, str], ...]
    pending: tuple[str, ...]
    policies: tuple[tuple[str, str, str], ...]


def default_sql_dir() -> Path:
    """``sql/`` of a source checkout, else the copy shipped inside the wheel."""
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("citypulse") / "_sql"))


def load_migrations(directory: Path | None = None) -> tuple[Migration, ...]:
    """Every migration file in ``directory``, sorted; unknown ``.sql`` names are refused."""
    directory = directory or default_sql_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(
                None, f"{path.name}: name must be NNNN_name[.plain|.timescale].sql"
            )
        version, name, variant = int(match[1]), match[2], match[3] or "common"
        found.append(Migration(version, name, cast(Variant, variant), path.read_text("utf-8")))
    return tuple(found)


def plan_migrations(migrations: Sequence[Migration], mode: Mode) -> tuple[Migration, ...]:
    """The ordered migrations for ``mode``; each version must be common or have both variants."""
    by_version: dict[int, dict[str, Migration]] = {}
    for m in migrations:
        variants = by_version.setdefault(m.version, {})
        if m.variant in variants:
            raise MigrationError(m.version, f"two files for variant {m.variant}")
        variants[m.variant] = m
    chosen: list[Migration] = []
    for version in sorted(by_version):
        variants = by_version[version]
        if "common" in variants:
            if len(variants) > 1:
                raise MigrationError(version, "a common file and mode variants for one version")
            chosen.append(variants["common"])
        elif set(variants) == {"plain", "timescale"}:
            chosen.append(variants[mode])
        else:
            raise MigrationError(version, "needs both .plain.sql and .timescale.sql variants")
    return tuple(chosen)


def _recorded_mode(applied: Sequence[_Applied]) -> Mode | None:
    for a in applied:
        if a.variant in ("plain", "timescale"):
            return cast(Mode, a.variant)
    return None


def _applied(conn: psycopg.Connection[TupleRow]) -> list[_Applied]:
    return conn.cursor(row_factory=class_row(_Applied)).execute(_APPLIED).fetchall()


def _choose_mode(
    conn: psycopg.Connection[TupleRow],
    requested: Literal["auto", "timescale", "plain"],
    recorded: Mode | None,
) -> Mode:
    available = bool(scalar(conn, _TIMESCALE_READY))
    if recorded is not None:
        if requested not in ("auto", recorded):
            raise SchemaModeError(
                f"this database is in {recorded} mode; it cannot be migrated as {requested}"
            )
        return recorded
    if requested == "timescale" and not available:
        raise SchemaModeError(
            "timescale mode requested but the timescaledb extension is not installed "
            "and preloaded on this server"
        )
    if requested == "auto":
        return "timescale" if available else "plain"
    return requested


def _apply(conn: psycopg.Connection[TupleRow], m: Migration) -> None:
    """Run ``m`` and record it, in one transaction.

    Roles are the server's, not the database's, and the advisory lock serialises only the
    runners of one database: two databases migrated at once on a fresh server both find a
    role missing and both create it, and the later one fails on ``pg_authid``'s unique
    index.  Its transaction rolled back, it runs again and now finds the role.
    """
    for attempt in range(1, _SHARED_RACE_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute(m.sql.encode())
                conn.execute(_RECORD, (m.version, m.name, m.variant, m.checksum))
            return
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name not in _SHARED_INDEXES or attempt == _SHARED_RACE_ATTEMPTS:
                raise MigrationError(m.version, f"{m.filename} failed: {exc}") from exc
            log.info(
                "%s: another database's migration created %s first; running it again",
                m.filename,
                exc.diag.constraint_name,
            )
        except psycopg.Error as exc:
            raise MigrationError(m.version, f"{m.filename} failed: {exc}") from exc


def migrate(
    conn: psycopg.Connection[TupleRow],
    *,
    mode: Literal["auto", "timescale", "plain"] = "auto",
    migrations: Sequence[Migration] | None = None,
) -> MigrationReport:
    """Apply pending migrations; each in its own transaction; stop at the first failure.

    ``conn`` must be in autocommit mode.  A session advisory lock serialises concurrent
    runners of the database (a race with another database over a role is retried).  An
    applied migration whose file changed is refused before anything runs.
    """
    if not conn.autocommit:
        raise MigrationError(None, "the migration connection must be in autocommit mode")
    migrations = load_migrations() if migrations is None else migrations
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(_CREATE_LEDGER)
        applied = _applied(conn)
        chosen_mode = _choose_mode(conn, mode, _recorded_mode(applied))
        wanted = plan_migrations(migrations, chosen_mode)
        by_version = {m.version: m for m in wanted}
        for a in applied:
            m = by_version.get(a.version)
            if m is None:
                raise MigrationError(
                    a.version, f"applied ({a.name}) but no such file exists any more"
                )
            if m.checksum != a.checksum or m.variant != a.variant:
                raise MigrationError(
                    a.version,
                    f"{m.filename} was edited after it was applied (checksum {a.checksum[:12]} "
                    f"recorded, {m.checksum[:12]} now); write a new migration instead",
                )
        done = {a.version for a in applied}
        newly: list[Migration] = []
        for m in wanted:
            if m.version in done:
                continue
            log.info("applying migration %s", m.filename)
            _apply(conn, m)
            newly.append(m)
        return MigrationReport(chosen_mode, tuple(newly), len(done))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def schema_status(
    conn: psycopg.Connection[TupleRow], migrations: Sequence[Migration] | None = None
) -> SchemaStatus:
    """What is applied, what is pending, which mode and which policies are in force."""
    migrations = load_migrations() if migrations is None else migrations
    available = bool(scalar(conn, _TIMESCALE_READY))
    version = conn.cursor(row_factory=scalar_row).execute(_TIMESCALE_VERSION).fetchone()
    applied = _applied(conn) if scalar(conn, _LEDGER_EXISTS) else []
    mode = _recorded_mode(applied)
    plan_mode: Mode = mode or ("timescale" if available else "plain")
    done = {a.version for a in applied}
    pending = tuple(
        m.filename for m in plan_migrations(migrations, plan_mode) if m.version not in done
    )
    policies: tuple[tuple[str, str, str], ...] = ()
    if scalar(conn, "SELECT to_regclass('schema_policies') IS NOT NULL"):
        policies = tuple((str(a), str(b), str(c)) for a, b, c in conn.execute(_POLICIES).fetchall())
    return SchemaStatus(
        mode=mode,
        timescale_version=str(version) if version is not None else None,
        timescale_available=available,
        applied=tuple((a.version, a.name, a.variant) for a in applied),
        pending=pending,
        policies=policies,
    )
