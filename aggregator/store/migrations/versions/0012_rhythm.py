"""Keep what a source's last document said of how often to ask it: its posting gap and <ttl>.

A 304, or the same document sent again, says nothing of either; without them stored, such
an answer timed the next fetch at the bare interval, and a feed that posts weekly or asks
for a <ttl> of a day was asked again every hour until its next new document.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Unknown until each source's next document is read: timed as before until then.
    op.add_column("sources", sa.Column("posting_gap_seconds", sa.Integer(), nullable=True))
    op.add_column("sources", sa.Column("feed_ttl_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), as 0006 and 0007: a batch copy of `sources` would
    # drop the table that items reference.
    op.drop_column("sources", "feed_ttl_seconds")
    op.drop_column("sources", "posting_gap_seconds")
