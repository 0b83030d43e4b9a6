"""Remember which address answered a source's Retry-After, and read every document again.

A 429 or 503 with Retry-After holds the host that sent it (fetch/holds.py). A later
refresh rebuilds the holds from the store; the source's own URL is not that host when the
answer came at the end of a redirect (a feed moved to a CDN that rate-limits), so the
answering URL is kept beside `retry_after`.

Existing sources also drop their validators once: this release reads documents otherwise
(encoding labels as browsers read them, RSS titles with markup, links' session ids and
routes), and a server answering 304 would keep the items as the old code read them.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("retry_after_url", sa.Text(), nullable=True))
    op.execute("UPDATE sources SET etag = NULL, last_modified = NULL")


def downgrade() -> None:
    op.drop_column("sources", "retry_after_url")
