"""Remember a digest of each source's reading configuration (selectors, kind, language...).

Editing it must read the source's document again, but a server that sends ETag or
Last-Modified answers the next conditional request with a 304: the stored validators are
dropped when the digest changes (store/sources.py). `read_with`: the digest the source's
stored items were last saved under; when it is not the configured one, the next save gives
the unchanged items the tags and language of the new configuration too.

Plain ADD COLUMNs. Existing sources start without a digest (the next sync records it) and
without their validators: this release reads documents otherwise (a date without a time is
midnight UTC, no longer the previous evening in UTC), and a server answering 304 would keep
the items as the old code read them. One unconditional fetch per source, at its next turn.

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
    op.add_column("sources", sa.Column("read_with", sa.String(length=32), nullable=True))
    op.execute("UPDATE sources SET etag = NULL, last_modified = NULL")


def downgrade() -> None:
    op.drop_column("sources", "read_with")
    op.drop_column("sources", "reading_digest")
