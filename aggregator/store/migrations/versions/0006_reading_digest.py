"""Remember a digest of each source's reading configuration (selectors, kind, language...).

Editing it must read the source's document again, but a server that sends ETag or
Last-Modified answers the next conditional request with a 304: the stored validators are
dropped when the digest changes (store/sources.py). A plain ADD COLUMN; existing sources
start without one, and the next sync records it without dropping anything.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("reading_digest", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "reading_digest")
