"""Full-text search over item titles and texts: FTS5 on SQLite, tsvector + GIN on PostgreSQL.

Neither object is in schema.metadata (SQLAlchemy has no portable notion of either);
`aggregator.store.search.is_search_object` names them so the migration-vs-metadata
comparison leaves them out. `aggregator.store.search` is the one query interface over both.

Tokenising: the corpus is multilingual (English, German, French, Dutch, ...), and a
per-language stemmer would need each item's language to be right and the query's language
to be known. Both databases therefore index words as written, lower-cased, without
stemming: PostgreSQL's 'simple' configuration and SQLite's unicode61 tokenizer. SQLite
also folds diacritics ("Übereinkommen" matches "ubereinkommen"); PostgreSQL's 'simple'
does not (that needs the unaccent extension, which a plain database user cannot install).

SQLite: an external-content FTS5 table (the text is not stored twice) kept in step by
triggers on items; the UPDATE trigger fires only when title or text change, so dedupe's
cluster_id updates cost nothing. PostgreSQL: a stored generated column (title weighted
A, text B) with a GIN index; PostgreSQL keeps it in step itself.

A later migration that rebuilds `items` in SQLite batch mode (copy, drop, rename) drops
the triggers with the old table: it must run SQLITE_DOWN's trigger drops before and the
trigger creations and 'rebuild' of SQLITE_UP after.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = (
    "CREATE VIRTUAL TABLE items_fts USING fts5("
    "title, text, content='items', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, text ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    # Items stored before this migration.
    "INSERT INTO items_fts(items_fts) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS items_fts_update",
    "DROP TRIGGER IF EXISTS items_fts_delete",
    "DROP TRIGGER IF EXISTS items_fts_insert",
    "DROP TABLE IF EXISTS items_fts",
)

POSTGRES_UP = (
    "ALTER TABLE items ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(text, '')), 'B')) STORED",
    "CREATE INDEX ix_items_search_vector ON items USING gin (search_vector)",
)
POSTGRES_DOWN = (
    "DROP INDEX IF EXISTS ix_items_search_vector",
    "ALTER TABLE items DROP COLUMN IF EXISTS search_vector",
)


def _run(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _run(SQLITE_UP if dialect == "sqlite" else POSTGRES_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _run(SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN)
