"""SQLite: new items wait in `items_fts_pending` for the full-text index, which takes them in
at the next search (`store.search.catch_up`), not in the refresh that stores them.

Why: FTS5 tokenising and merging each new item's title and text in the insert's trigger was
an eighth of the store writer's CPU in a cold refresh, and the store writer is the slowest
stage of a refresh. Searches are rarer than refreshes, and a search reads the index only
after bringing it up to date, so no search misses an item. (reader does the same: its
search index is updated apart from its feeds.)

The triggers keep the index right while items wait: an item still waiting was never
indexed, so its deletion or edit touches only the queue (FTS5's external-content 'delete'
must be given exactly what was indexed, or the index is corrupt). Items stored before this
migration are indexed already; the queue starts empty. PostgreSQL is unchanged: its
generated column is written with the row.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As migration 0002 made them: restored by the downgrade.
_OLD_TRIGGERS = (
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, text ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
)
_DROP_TRIGGERS = (
    "DROP TRIGGER IF EXISTS items_fts_update",
    "DROP TRIGGER IF EXISTS items_fts_delete",
    "DROP TRIGGER IF EXISTS items_fts_insert",
)
_WAITING = "EXISTS (SELECT 1 FROM items_fts_pending WHERE item_id = old.id)"
SQLITE_UP = (
    *_DROP_TRIGGERS,
    # Named with the FTS table's prefix: `store.search.is_search_object` keeps it out of
    # the migration-vs-metadata comparison, as FTS5's own shadow tables.
    "CREATE TABLE items_fts_pending (item_id INTEGER PRIMARY KEY)",
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN "
    "INSERT OR IGNORE INTO items_fts_pending(item_id) VALUES (new.id); END",
    # One trigger, in this order: whether the item was indexed is read before it leaves
    # the queue.
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) "
    f"SELECT 'delete', old.id, old.title, old.text WHERE NOT {_WAITING}; "
    "DELETE FROM items_fts_pending WHERE item_id = old.id; END",
    # A waiting item is indexed with whatever text it has when the index takes it in.
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, text ON items "
    f"WHEN NOT {_WAITING} BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
)
SQLITE_DOWN = (
    # The waiting items indexed first: the old triggers expect every item in the index.
    "INSERT INTO items_fts(rowid, title, text) SELECT id, title, text FROM items "
    "WHERE id IN (SELECT item_id FROM items_fts_pending) ORDER BY id",
    *_DROP_TRIGGERS,
    "DROP TABLE IF EXISTS items_fts_pending",
    *_OLD_TRIGGERS,
)


def _run(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _run(SQLITE_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _run(SQLITE_DOWN)
