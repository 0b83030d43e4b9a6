"""Note when an item's row last changed in place, for incremental exports.

`last_changed` moves with a new revision only. A date the publisher corrects, a moved link,
new tags (`aggregator retag`) or a merge of the item's cluster change what an export line
says without a revision, and `export --since` missed them: a consumer kept the old line for
good. `modified_at` is set by those writes; NULL means "not since this release", where
`last_changed` tells. A plain ADD COLUMN: SQLite does it in place, so the full-text triggers
of 0002 are untouched.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("modified_at")
