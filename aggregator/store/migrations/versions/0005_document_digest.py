"""Remember a digest of the last document each source's refresh parsed, and its warnings.

A server without ETag or Last-Modified (or one that ignores them) sends the whole document
again at every fetch; when its digest is the one stored, the refresh skips parsing it
(pipeline.py). A plain ADD COLUMN: SQLite does it in place. Existing sources start without
one, so their next document is parsed as before. `last_warning`: what the last document's
reading warned about (a malformed feed kept, a selector matching nothing), for `aggregator
sources` and the API. `retry_after`: when a rate-limited source's server said to come back
(Retry-After), which every refresh honours, a manual one included.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("document_digest", sa.String(length=64), nullable=True))
    op.add_column("sources", sa.Column("last_warning", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite it copies the table, and dropping the old one breaks the
    # foreign keys of the items that point at it. SQLite 3.35+ drops a column in place.
    op.drop_column("sources", "retry_after")
    op.drop_column("sources", "last_warning")
    op.drop_column("sources", "document_digest")
