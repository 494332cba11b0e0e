"""Database access: connections, the migration runner, schema status and upkeep, and
:func:`is_transient`, the one answer to "is this database failure worth retrying?"."""

from typing import TYPE_CHECKING

from citypulse._lazy import lazy_exports

if TYPE_CHECKING:
    from citypulse.db._connect import connect, scalar
    from citypulse.db._devices import load_devices, upsert_devices
    from citypulse.db._migrate import (
        Migration,
        MigrationReport,
        SchemaStatus,
        load_migrations,
        migrate,
        plan_migrations,
        schema_status,
    )
    from citypulse.db._readings import READING_TABLES, count_readings
    from citypulse.db._transient import is_transient
    from citypulse.db._upkeep import ROLLUP_VIEWS, maintain, refresh_rollups, schema_mode
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "READING_TABLES",
    "ROLLUP_VIEWS",
    "Migration",
    "MigrationReport",
    "SchemaStatus",
    "connect",
    "count_readings",
    "is_transient",
    "load_devices",
    "load_migrations",
    "maintain",
    "migrate",
    "plan_migrations",
    "refresh_rollups",
    "scalar",
    "schema_mode",
    "schema_status",
    "upsert_devices",
]
