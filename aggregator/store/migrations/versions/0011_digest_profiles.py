"""Remember when a service first ran with each digest profile.

A profile that never sent a digest counted its first scheduled time from the service's
start: one whose first time passed while the service was down (started at 07:36, stopped,
started again at 07:37:20 for a 07:37 digest) went out a day late. The first start with a
profile now records it here, and later starts count from then. Profiles of an older store
are recorded at the first start after this migration, as if new: those that sent digests
count from their last one anyway.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_profiles",
        sa.Column("profile", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("profile", name=op.f("pk_digest_profiles")),
    )


def downgrade() -> None:
    op.drop_table("digest_profiles")
