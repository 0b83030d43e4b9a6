"""Apply the numbered Alembic migrations that ship inside the package (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from aggregator.store.engine import WRITE_OPTION

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Any fixed number: PostgreSQL workers starting together queue on this lock, so one of
# them migrates and the others then find the schema at head.
POSTGRES_MIGRATION_LOCK = 0x616767_0001


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    # configparser interpolation: a literal % in the path must be doubled
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision`, in one transaction (DDL is transactional on both)."""
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("select pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK}
            )
        command.upgrade(alembic_config(conn), revision)
