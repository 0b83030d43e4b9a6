"""`urls.same_page_key` in SQL, so that dedupe finds another spelling of a stored link in
one indexed lookup (`ix_items_page_key`, migration 0013).

Looking each link up under its four spellings (http and https, with and without "www.")
cost a cold refresh a fifth more store time than one lookup. The expression is plain SQL
both databases evaluate alike (1-based `substr`, `||`, exact `=`), written once here for
the index and the query: SQLite uses an expression index only for the same expression.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, literal_column

PAGE_KEY_SQL = (
    "CASE"
    " WHEN substr(canonical_url, 1, 12) = 'https://www.' THEN '//' || substr(canonical_url, 13)"
    " WHEN substr(canonical_url, 1, 8) = 'https://' THEN '//' || substr(canonical_url, 9)"
    " WHEN substr(canonical_url, 1, 11) = 'http://www.' THEN '//' || substr(canonical_url, 12)"
    " WHEN substr(canonical_url, 1, 7) = 'http://' THEN '//' || substr(canonical_url, 8)"
    " ELSE canonical_url END"
)


def page_key() -> ColumnElement[str]:
    """The items row's page key, as the index holds it."""
    return literal_column(PAGE_KEY_SQL)
