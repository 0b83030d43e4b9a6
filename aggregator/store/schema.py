"""The tables, in SQLAlchemy Core. One schema for SQLite and PostgreSQL.

Invariants live in constraints: an item is unique per (source, identity); a digest and its
outbox row are unique per (profile, window end), which is what makes "sent once" hold.
Migrations under migrations/versions/ create exactly these tables; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from aggregator.store.page_key import PAGE_KEY_SQL

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A big integer that is still an auto-increment INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utc() -> DateTime:
    return DateTime(timezone=True)


sources = Table(
    "sources",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("org", String(40), nullable=False),
    Column("config_url", Text, nullable=False),  # as configured
    Column("url", Text, nullable=False),  # current: where a permanent redirect led
    Column("enabled", Boolean, nullable=False, default=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_status", String(40)),
    Column("last_fetch_at", utc()),
    Column("last_success_at", utc()),
    Column("last_error", Text),
    Column("last_error_kind", String(40)),
    Column("failing_since", utc()),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("next_fetch_at", utc()),
    Column("last_item_count", Integer),
    Column("ever_yielded", Boolean, nullable=False, default=False),
    # Digest of the last document parsed (`aggregator.same_document`): the same one again is
    # not parsed again.
    Column("document_digest", String(64)),
    # The warnings of the last document read, one a line; None: it was read cleanly.
    Column("last_warning", Text),
    # The last Retry-After the source drew, capped to its next fetch then: the source's own
    # wait while its status is rate limited; its host's hold until then, whatever the status
    # (kept when the url is edited: the wait is the old host's, fetch/holds.py).
    Column("retry_after", utc()),
    # ...and the address that answered it: its host is held (fetch/holds.py), which is not
    # the source's own when the answer came at the end of a redirect.
    Column("retry_after_url", Text),
    # Digest of the configuration the source's documents are read with (selectors, kind,
    # language...: `aggregator.same_document.reading_digest`) that the last refresh read
    # with; a refresh reading with another drops the validators first (store/sources.py).
    Column("reading_digest", String(32)),
    # The reading digest the source's stored items were last saved under: when it is not
    # `reading_digest`, the next save re-tags its unchanged items (store/items.py).
    Column("read_with", String(32)),
    # What the last document read said of how often to ask (`models.Rhythm`), in seconds:
    # the median gap between its posts and its RSS <ttl>. A 304 says neither.
    Column("posting_gap_seconds", Integer),
    Column("feed_ttl_seconds", Integer),
    # distributed workers: a lease with expiry so a crashed worker's source is picked up again
    Column("lease_owner", String(200)),
    Column("lease_expires_at", utc()),
)

clusters = Table(
    "clusters",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("primary_item_id", BigId),  # no FK: items reference clusters, and vice versa
    Column("size", Integer, nullable=False, default=1),
    Column("created_at", utc(), nullable=False),
    Column("updated_at", utc(), nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source_id", String(200), ForeignKey("sources.id"), nullable=False),
    Column("identity", Text, nullable=False),
    Column("guid", Text),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("published", utc(), nullable=False),
    Column("published_is_fallback", Boolean, nullable=False, default=False),
    Column("updated", utc()),
    Column("language", String(16)),
    Column("author", Text),
    Column("content_hash", String(100), nullable=False),
    # JSON list of the document's own categories, so `retag` can re-run tagging exactly.
    Column("categories", Text, nullable=False, server_default="[]"),
    Column("text_hash", String(100)),  # dedupe: hash of the normalised text alone
    Column("signature", LargeBinary),  # dedupe: MinHash signature
    # dedupe: the item's LSH (band, bucket) pairs, packed (store/bucket_index.py), and the
    # dedupe_clock number taken when they were written, by which writers' in-memory bucket
    # indexes catch up with each other.
    Column("buckets", LargeBinary),
    Column("dedupe_seq", BigInteger),
    Column("first_seen", utc(), nullable=False),
    Column("last_changed", utc(), nullable=False),  # when the current revision was stored
    # When the row last changed in place, without a revision (a corrected date, a moved
    # link, new tags, a merged cluster); NULL: not since migration 0009. `export --since`.
    Column("modified_at", utc()),
    Column("revision", Integer, nullable=False, default=1),
    Column("cluster_id", BigId, ForeignKey("clusters.id")),
    UniqueConstraint("source_id", "identity"),
    Index(None, "canonical_url"),
    Index(None, "text_hash"),
    Index(None, "first_seen"),
    Index(None, "published"),
    Index(None, "cluster_id"),
    Index(None, "dedupe_seq"),
    # Dedupe looks a link up under every spelling of it (store/page_key.py).
    Index("ix_items_page_key", text(f"({PAGE_KEY_SQL})")),
)

item_revisions = Table(
    "item_revisions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("item_id", BigId, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("content_hash", String(100), nullable=False),
    Column("recorded_at", utc(), nullable=False),
    UniqueConstraint("item_id", "revision"),
)

item_tags = Table(
    "item_tags",
    metadata,
    Column("item_id", BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(200), primary_key=True),
    Index(None, "tag", "item_id"),
)

# One row: the last number given to a fingerprinted item (items.dedupe_seq). Taken under the
# cluster lock, so numbers are given in the order the writers take turns.
dedupe_clock = Table(
    "dedupe_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

fetch_log = Table(
    "fetch_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source_id", String(200), ForeignKey("sources.id"), nullable=False),
    Column("started_at", utc(), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("status", String(40), nullable=False),
    Column("error_kind", String(40)),
    Column("error", Text),
    Column("new", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Index(None, "source_id", "started_at"),
)

digests = Table(
    "digests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("profile", String(200), nullable=False),
    Column("window_start", utc(), nullable=False),
    Column("window_end", utc(), nullable=False),
    Column("created_at", utc(), nullable=False),
    Column("entry_count", Integer, nullable=False, default=0),
    Column("item_count", Integer, nullable=False, default=0),
    Column("body_json", Text, nullable=False),  # the Digest as its documented JSON
    UniqueConstraint("profile", "window_end"),
)

# The digest profiles a service has run with, and since when. A profile's first digest is
# due at its first scheduled time after that: one missed while the service was down is sent
# when it starts again, where counting from that start would skip it to the next day.
digest_profiles = Table(
    "digest_profiles",
    metadata,
    Column("profile", String(200), primary_key=True),
    Column("first_seen_at", utc(), nullable=False),
)

# Which item revision a digest showed, so the next one can say "updated since".
digest_items = Table(
    "digest_items",
    metadata,
    Column("digest_id", BigId, ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("revision", Integer, nullable=False),
    Index(None, "item_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("profile", String(200), nullable=False),
    Column("window_end", utc(), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("status", String(20), nullable=False),  # pending, sent
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_at", utc()),
    Column("claimed_by", String(200)),
    Column("sent_at", utc()),
    Column("last_error", Text),
    Column("message", LargeBinary),  # the whole RFC 5322 message, so a retry is identical
    UniqueConstraint("profile", "window_end"),
)

# Pruned items leave these, so a feed that still lists an old item does not bring it back.
tombstones = Table(
    "tombstones",
    metadata,
    Column("source_id", String(200), primary_key=True),
    Column("identity", Text, primary_key=True),
    Column("canonical_url", Text, nullable=False),
    Column("pruned_at", utc(), nullable=False),
)
