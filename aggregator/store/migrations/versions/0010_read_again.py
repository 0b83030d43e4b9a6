"""Read every source's document again once: this release reads documents otherwise.

Dates with a zone name outside the RFC 822 layout (Java's "Mon Jul 27 16:31:00 CEST 2026",
PHP's "2026-07-27 16:31:00 CEST", "UTC-05:00", the US "CT") were read as UTC or lost their
time; entries of one link and title on different days were merged as one listed twice; a
DOCTYPE with harmless entities was refused. A server answering a conditional request with
a 304 would keep the items as the old code read them, so the stored validators go: one
unconditional fetch per source, at its next turn. (A server sending the same bytes again is
recognised by the document digest, which holds the reading version: same_document.py.)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE sources SET etag = NULL, last_modified = NULL")


def downgrade() -> None:
    pass  # nothing to give back: the validators come again with the next answers
