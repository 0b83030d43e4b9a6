"""LSH buckets move from a table of their own (one row per band and item) into the item.

`lsh_buckets` held 34 rows per item, and writing them was more than half of a cold
refresh's store CPU. Candidates are now looked up in memory (store/bucket_index.py), which
reads each item's pairs from `items.buckets` and catches up with other writers by
`items.dedupe_seq`, a number from the one-row `dedupe_clock`.

Existing rows are carried over: each item's pairs are packed from its `lsh_buckets` rows
and numbered in item order. Plain ADD COLUMNs: SQLite does them in place, so the
full-text triggers of 0002 are untouched.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000  # items per UPDATE batch while carrying rows over
# The format of `items.buckets` at this revision, defined here so that the migration stands
# alone (store/bucket_index.py reads and writes the same): an item's (band, bucket) pairs,
# sorted, as little-endian int64.
_PAIRS = np.dtype("<i8")


def _pack(pairs: Iterable[tuple[int, int]]) -> bytes:
    return np.array(sorted(pairs), dtype=_PAIRS).reshape(-1, 2).tobytes()


def _unpack(blob: bytes) -> list[tuple[int, int]]:
    return [(int(b), int(k)) for b, k in np.frombuffer(blob, dtype=_PAIRS).reshape(-1, 2)]


def upgrade() -> None:
    op.add_column("items", sa.Column("buckets", sa.LargeBinary(), nullable=True))
    op.add_column("items", sa.Column("dedupe_seq", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_items_dedupe_seq"), "items", ["dedupe_seq"], unique=False)
    clock = op.create_table(
        "dedupe_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedupe_clock")),
    )
    conn = op.get_bind()
    pairs: dict[int, list[tuple[int, int]]] = {}
    rows = conn.execute(sa.text("select item_id, band, bucket from lsh_buckets order by item_id"))
    for item_id, band, bucket in rows:
        pairs.setdefault(int(item_id), []).append((int(band), int(bucket)))
    updates = [
        {"b_id": item_id, "buckets": _pack(found), "seq": seq}
        for seq, (item_id, found) in enumerate(sorted(pairs.items()), start=1)
    ]
    statement = sa.text("update items set buckets = :buckets, dedupe_seq = :seq where id = :b_id")
    for start in range(0, len(updates), BATCH):
        conn.execute(statement, updates[start : start + BATCH])
    op.bulk_insert(clock, [{"id": 1, "seq": len(updates)}])
    op.drop_index(op.f("ix_lsh_buckets_item_id"), table_name="lsh_buckets")
    op.drop_table("lsh_buckets")


def downgrade() -> None:
    conn = op.get_bind()
    kept = conn.execute(
        sa.text("select id, buckets, first_seen from items where buckets is not null")
    ).all()
    op.drop_table("dedupe_clock")
    op.drop_index(op.f("ix_items_dedupe_seq"), table_name="items")
    # Plain DROP COLUMNs (SQLite 3.35+ does them in place): a batch rebuild of `items` would
    # drop the full-text triggers of 0002, and with foreign keys on, deleting the old table
    # would cascade to every table that references items.
    op.drop_column("items", "dedupe_seq")
    op.drop_column("items", "buckets")
    op.create_table(
        "lsh_buckets",
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_lsh_buckets_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("band", "bucket", "item_id", name=op.f("pk_lsh_buckets")),
    )
    op.create_index(op.f("ix_lsh_buckets_item_id"), "lsh_buckets", ["item_id"], unique=False)
    insert = sa.text(
        "insert into lsh_buckets (band, bucket, item_id, first_seen) "
        "values (:band, :bucket, :item_id, :first_seen)"
    )
    for item_id, blob, first_seen in kept:
        values = [
            {"band": band, "bucket": bucket, "item_id": item_id, "first_seen": first_seen}
            for band, bucket in _unpack(blob)
        ]
        if values:
            conn.execute(insert, values)
