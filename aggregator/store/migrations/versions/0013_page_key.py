"""Index the items' links by page (`store/page_key.py`): dedupe finds the same page spelled
over http or https, with or without "www.", by another source in one lookup.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As store/page_key.py has it at this revision: a migration keeps its own copy.
PAGE_KEY_SQL = (
    "CASE"
    " WHEN substr(canonical_url, 1, 12) = 'https://www.' THEN '//' || substr(canonical_url, 13)"
    " WHEN substr(canonical_url, 1, 8) = 'https://' THEN '//' || substr(canonical_url, 9)"
    " WHEN substr(canonical_url, 1, 11) = 'http://www.' THEN '//' || substr(canonical_url, 12)"
    " WHEN substr(canonical_url, 1, 7) = 'http://' THEN '//' || substr(canonical_url, 8)"
    " ELSE canonical_url END"
)


def upgrade() -> None:
    op.create_index("ix_items_page_key", "items", [sa.text(f"({PAGE_KEY_SQL})")])


def downgrade() -> None:
    op.drop_index("ix_items_page_key", table_name="items")
