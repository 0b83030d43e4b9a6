"""Apply the numbered Alembic migrations that ship inside the package (no alembic.ini).

Every command that opens the store calls `upgrade`, and the database is almost always at head
already. That is checked first without Alembic, whose import and script loading cost more
than the rest of opening the store: the revision in the database against the heads that the
migration files declare. Anything else (an empty or older database, a revision this release
does not know, files it cannot read) goes through Alembic, which decides.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy.exc
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from aggregator.store.engine import WRITE_OPTION

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Any fixed number: PostgreSQL workers starting together queue on this lock, so one of
# them migrates and the others then find the schema at head.
POSTGRES_MIGRATION_LOCK = 0x616767_0001


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    # configparser interpolation: a literal % in the path must be doubled
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision`, in one transaction (DDL is transactional on both)."""
    if revision == "head" and at_head(engine):
        return
    from alembic import command

    with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("select pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK}
            )
        command.upgrade(alembic_config(conn), revision)


def at_head(engine: Engine) -> bool:
    """Whether the database's revisions are the heads of the migration files (no Alembic)."""
    heads = script_heads()
    if not heads:
        return False
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("select version_num from alembic_version")).scalars()
            return set(stored) == heads
    except sqlalchemy.exc.DBAPIError:  # no version table yet: a new database
        return False


def script_heads(versions: Path = MIGRATIONS / "versions") -> frozenset[str]:
    """The revisions no other file names as its down_revision; empty when unsure.

    Read from the files' ``revision`` and ``down_revision`` assignments, not imported.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        declared = _declared(path)
        if declared is None:
            return frozenset()
        revision, down = declared
        revisions.add(revision)
        parents.update(down)
    return frozenset(revisions - parents)


def _declared(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """A migration file's revision and down revisions, or None if it does not say plainly."""
    found: dict[str, object] = {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            name, value = node.target.id, node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name, value = node.targets[0].id, node.value
        else:
            continue
        if name in ("revision", "down_revision"):
            try:
                found[name] = ast.literal_eval(value)
            except ValueError:
                return None
    revision, down = found.get("revision"), found.get("down_revision", "missing")
    if not isinstance(revision, str):
        return None
    if down is None:
        return revision, ()
    if isinstance(down, str):
        return revision, (down,)
    if isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
        return revision, tuple(down)
    return None
