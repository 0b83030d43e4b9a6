"""Keep each item's own categories (the feed's, or a procedure event's stage and kind).

Tag rules may read them (`fields = ["categories"]`) and ep-procedure items turn them into
tags, so `aggregator retag` needs them to re-run tagging exactly. A plain ADD COLUMN: SQLite
does it in place, so the full-text triggers of 0002 are untouched.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("categories", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("categories")
