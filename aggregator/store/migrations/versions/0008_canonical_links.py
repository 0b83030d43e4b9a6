"""Give stored items the links this release reads: canonical URLs and readers' links.

This release's canonical form keeps a script-driven site's route ("#!topic/x"), drops
session ids (";jsessionid=", "PHPSESSID"), user names, a host's final dot and more tracking
parameters, and keeps the site's own "pk_id" and "at_home"; readers' links lose the session
ids and have their spaces encoded. An item known by its link ("u:" identity) must be found
under the new form at the next refresh, or it is stored a second time and announced again.
So each item's `url` and `canonical_url` are read again here, and a "u:" identity follows
its canonical URL. Where several rows of a source come to one identity (a listing stored
once per session id by the previous release), the oldest takes it; the copies keep theirs.

Items without a link of their own (their canonical URL is the feed's link and
"#entry-<hash>") are left alone. Computed with this release's functions: the URLs are the
same strings whichever later release runs it, as canonical forms are idempotent.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aggregator.keys import indexable
from aggregator.urls import canonical_url, with_unsafe_characters_encoded, without_tracking

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    page = sa.text(
        "select id, source_id, identity, url, canonical_url from items"
        " where id > :after order by id limit :size"
    )
    after = 0
    while rows := conn.execute(page, {"after": after, "size": PAGE}).all():
        after = rows[-1].id
        _relink(conn, rows)


PAGE = 5_000  # items read at a time: memory stays flat however large the archive


def _relink(conn: sa.Connection, rows: Sequence[sa.Row[tuple[int, str, str, str, str]]]) -> None:
    taken = sa.text("select 1 from items where source_id = :source_id and identity = :identity")
    change = sa.text(
        "update items set url = :url, canonical_url = :canonical_url, identity = :identity"
        " where id = :id"
    )
    for row in rows:
        if "#entry-" in row.canonical_url:
            continue
        url = with_unsafe_characters_encoded(without_tracking(row.url))
        canonical = indexable(canonical_url(url))
        if url == row.url and canonical == row.canonical_url:
            continue
        identity = row.identity
        if identity.startswith("u:") and f"u:{canonical}" != identity:
            wanted = f"u:{canonical}"
            clash = conn.execute(taken, {"source_id": row.source_id, "identity": wanted}).first()
            if clash is None:
                identity = wanted
        conn.execute(
            change, {"id": row.id, "url": url, "canonical_url": canonical, "identity": identity}
        )


def downgrade() -> None:
    pass  # the links as this release reads them are links still
