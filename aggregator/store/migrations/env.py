"""Alembic environment for the aggregator store.

At run time `aggregator.store.migrate.upgrade` passes an open connection in
``config.attributes["connection"]`` (inside its transaction), so no alembic.ini is needed.
For writing a new numbered revision by hand, the URL comes from ``sqlalchemy.url`` or
``AGGREGATOR_DATABASE_URL``. Migrations are written against `schema.metadata`; revision ids
are numbers ("0001", "0002", ...) given with ``--rev-id``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from aggregator.store.engine import create_store_engine
from aggregator.store.schema import metadata
from aggregator.store.search import is_search_object


def include_object(
    _object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    """Autogenerate leaves the full-text index of 0002 alone: it is not in schema.metadata."""
    return not is_search_object(name, type_)


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        include_object=include_object,
        # SQLite cannot ALTER most things: later revisions use batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get(
        "AGGREGATOR_DATABASE_URL", "sqlite:///var/aggregator.sqlite"
    )
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            run_with(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
