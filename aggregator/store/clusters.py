"""Dedupe against the store: the SQL `CandidateIndex` and `assign_clusters`.

Everything takes the caller's `Connection`, so clustering runs inside the transaction that
saved the items: either the items and their clusters are stored, or neither is. The match
decision and the merge logic are the dedupe stage's (`aggregator.dedupe.cluster.assign`);
this module only finds candidates and moves rows.

Cost per new item: one indexed lookup per LSH band (the (band, bucket) primary key), one on
canonical_url and one on text_hash, each bounded by the first-seen window, then an exact
check of the few candidates. None of it scans the archive, so it does not grow with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, union, update
from sqlalchemy.exc import SQLAlchemyError

from aggregator.dedupe.cluster import ClusterId, Merge, assign, choose_primary
from aggregator.dedupe.records import DedupeItem, Features, Key, Member
from aggregator.dedupe.signatures import features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds
from aggregator.errors import StoreError
from aggregator.models import OrgKind
from aggregator.store.schema import clusters, items, lsh_buckets, sources
from aggregator.store.timestamps import from_db, to_db

CHUNK = 500  # ids per IN (...) list: well under SQLite's and psycopg's parameter limits

_ITEM_COLUMNS = (
    items.c.id,
    items.c.source_id,
    sources.c.org,
    sources.c.kind,
    items.c.title,
    items.c.text,
    items.c.canonical_url,
    items.c.published,
    items.c.first_seen,
    items.c.cluster_id,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterChanges:
    """What `assign_clusters` did: every given item's cluster, and the merges it made."""

    assigned: dict[int, int]  # item id -> cluster id
    merges: tuple[Merge, ...] = ()

    @property
    def merged(self) -> int:
        return sum(len(m.absorbed) for m in self.merges)


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _dedupe_item(row: Any) -> DedupeItem:
    return DedupeItem(
        key=int(row.id),
        source_id=row.source_id,
        org=OrgKind(row.org),
        title=row.title,
        text=row.text,
        canonical_url=row.canonical_url,
        published=from_db(row.published),
        first_seen=from_db(row.first_seen),
        source_kind=row.kind,
    )


class SqlCandidateIndex:
    """The store as a `CandidateIndex`, inside one transaction. Features are computed once
    per item and kept for the life of the index (one `assign_clusters` call)."""

    def __init__(
        self, conn: Connection, *, now: datetime, thresholds: Thresholds = DEFAULT
    ) -> None:
        self._conn = conn
        self._now = to_db(now)
        self._thresholds = thresholds
        self._features: dict[int, Features] = {}
        self._cluster: dict[int, int] = {}  # item id -> cluster id, kept current by merge()

    # -- reading items ---------------------------------------------------------------------
    def load(self, ids: Sequence[int]) -> list[Features]:
        """Features of the given stored items, in id order."""
        missing = sorted({i for i in ids if i not in self._features})
        for part in _chunks(missing):
            query = (
                select(*_ITEM_COLUMNS)
                .join(sources, sources.c.id == items.c.source_id)
                .where(items.c.id.in_(part))
            )
            for row in self._conn.execute(query):
                self._features[row.id] = features(_dedupe_item(row), self._thresholds)
                if row.cluster_id is not None:
                    self._cluster[row.id] = int(row.cluster_id)
        return [self._features[i] for i in sorted(set(ids)) if i in self._features]

    # -- CandidateIndex ----------------------------------------------------------------------
    def add(self, item: Features) -> None:
        key = _int(item.key)
        conn = self._conn
        conn.execute(
            update(items)
            .where(items.c.id == key)
            .values(text_hash=item.text_hash, signature=item.signature)
        )
        # Replace, not append: an updated item's old buckets would find stale candidates.
        conn.execute(delete(lsh_buckets).where(lsh_buckets.c.item_id == key))
        if item.buckets:
            seen = to_db(item.item.seen)
            conn.execute(
                lsh_buckets.insert(),
                [
                    {"band": band, "bucket": bucket, "item_id": key, "first_seen": seen}
                    for band, bucket in sorted(set(item.buckets))
                ],
            )
        if key not in self._cluster:
            current = conn.execute(select(items.c.cluster_id).where(items.c.id == key)).scalar()
            if current is None:  # the store gives each new item a cluster; be safe anyway
                current = conn.execute(
                    clusters.insert()
                    .values(primary_item_id=key, size=1, created_at=self._now, updated_at=self._now)
                    .returning(clusters.c.id)
                ).scalar_one()
                conn.execute(update(items).where(items.c.id == key).values(cluster_id=current))
            self._cluster[key] = int(current)

    def candidates(self, item: Features, window: timedelta) -> Iterator[Features]:
        key = _int(item.key)
        seen = item.item.seen
        low, high = to_db(seen - window), to_db(seen + window)
        in_window = items.c.first_seen.between(low, high)
        queries = [
            select(items.c.id).where(
                items.c.canonical_url == item.item.canonical_url, in_window, items.c.id != key
            )
        ]
        if item.text_hash is not None:
            queries.append(
                select(items.c.id).where(
                    items.c.text_hash == item.text_hash, in_window, items.c.id != key
                )
            )
        if item.buckets:
            queries.append(
                select(lsh_buckets.c.item_id).where(
                    # OR of equalities, not a row-value IN: SQLite scans the whole table for
                    # "(band, bucket) IN (VALUES ...)" but answers each equality from the key.
                    or_(
                        *(
                            and_(lsh_buckets.c.band == band, lsh_buckets.c.bucket == bucket)
                            for band, bucket in sorted(item.buckets)
                        )
                    ),
                    lsh_buckets.c.first_seen.between(low, high),
                    lsh_buckets.c.item_id != key,
                )
            )
        ids = sorted(int(i) for i in self._conn.execute(union(*queries)).scalars())
        yield from self.load(ids)

    def cluster_of(self, key: Key) -> ClusterId:
        return self._cluster[_int(key)]

    def primary_of(self, cluster: ClusterId) -> Member:
        cluster_id = _int(cluster)
        primary = self._conn.execute(
            select(clusters.c.primary_item_id).where(clusters.c.id == cluster_id)
        ).scalar()
        query = select(items.c.id, items.c.published, sources.c.org).join(
            sources, sources.c.id == items.c.source_id
        )
        if primary is not None:
            rows = self._conn.execute(query.where(items.c.id == primary)).all()
        else:  # a cluster whose primary was never set: the rule over all its members
            rows = self._conn.execute(query.where(items.c.cluster_id == cluster_id)).all()
        if not rows:
            raise StoreError(f"cluster {cluster_id} has no members")
        return choose_primary(
            Member(key=int(r.id), org=OrgKind(r.org), published=from_db(r.published)) for r in rows
        )

    def merge(self, clusters_: Sequence[ClusterId], primary: Member) -> ClusterId:
        ids = sorted({_int(c) for c in clusters_})
        into, absorbed = ids[0], ids[1:]  # the oldest cluster keeps its id
        conn = self._conn
        conn.execute(update(items).where(items.c.cluster_id.in_(absorbed)).values(cluster_id=into))
        conn.execute(delete(clusters).where(clusters.c.id.in_(absorbed)))
        size = conn.execute(
            select(func.count()).select_from(items).where(items.c.cluster_id == into)
        ).scalar_one()
        conn.execute(
            update(clusters)
            .where(clusters.c.id == into)
            .values(primary_item_id=_int(primary.key), size=size, updated_at=self._now)
        )
        gone = set(absorbed)
        for item_id, cluster_id in self._cluster.items():
            if cluster_id in gone:
                self._cluster[item_id] = into
        return into


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"store keys are item ids, got {value!r}")
    return value


def assign_clusters(
    conn: Connection,
    new_item_ids: Sequence[int],
    *,
    now: datetime,
    window: timedelta | None = None,
    thresholds: Thresholds = DEFAULT,
) -> ClusterChanges:
    """Fingerprint the given stored items and fold each into every cluster it matches.

    Call it inside the transaction that stored the items (each with its own cluster, or
    none). Items are taken in id order, so later items of a batch see earlier ones.
    Idempotent: a second call finds every match already in the item's own cluster.
    """
    window = thresholds.window if window is None else window
    index = SqlCandidateIndex(conn, now=now, thresholds=thresholds)
    try:
        merges = []
        for item in index.load(new_item_ids):
            merge = assign(index, item, window=window, thresholds=thresholds)
            if merge is not None:
                merges.append(merge)
        assigned: dict[int, int] = {}
        for part in _chunks(sorted(set(new_item_ids))):
            rows = conn.execute(select(items.c.id, items.c.cluster_id).where(items.c.id.in_(part)))
            assigned.update({int(r.id): int(r.cluster_id) for r in rows})
    except SQLAlchemyError as exc:
        raise StoreError(f"clustering failed: {exc.__class__.__name__}: {exc}") from exc
    return ClusterChanges(assigned=assigned, merges=tuple(merges))


# -- reading clusters -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterMember:
    item_id: int
    source_id: str
    org: OrgKind
    title: str
    url: str
    published: datetime
    primary: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterView:
    id: int
    primary_item_id: int | None
    size: int
    updated_at: datetime
    members: tuple[ClusterMember, ...]  # the primary first, then by publication


def list_clusters(
    conn: Connection, *, since: datetime | None = None, min_size: int = 2
) -> list[ClusterView]:
    """Clusters changed since `since` with at least `min_size` members, newest first."""
    query = select(clusters).where(clusters.c.size >= min_size)
    if since is not None:
        query = query.where(clusters.c.updated_at >= to_db(since))
    rows = conn.execute(query.order_by(clusters.c.updated_at.desc(), clusters.c.id)).all()
    by_cluster: dict[int, list[Any]] = {int(r.id): [] for r in rows}
    for part in _chunks(list(by_cluster)):
        member_rows = conn.execute(
            select(
                items.c.id,
                items.c.cluster_id,
                items.c.source_id,
                sources.c.org,
                items.c.title,
                items.c.url,
                items.c.published,
            )
            .join(sources, sources.c.id == items.c.source_id)
            .where(items.c.cluster_id.in_(part))
        )
        for m in member_rows:
            by_cluster[int(m.cluster_id)].append(m)
    views = []
    for r in rows:
        primary = None if r.primary_item_id is None else int(r.primary_item_id)
        members = sorted(
            (
                ClusterMember(
                    item_id=int(m.id),
                    source_id=m.source_id,
                    org=OrgKind(m.org),
                    title=m.title,
                    url=m.url,
                    published=from_db(m.published),
                    primary=int(m.id) == primary,
                )
                for m in by_cluster[int(r.id)]
            ),
            key=lambda m: (not m.primary, m.published, m.item_id),
        )
        views.append(
            ClusterView(
                id=int(r.id),
                primary_item_id=primary,
                size=int(r.size),
                updated_at=from_db(r.updated_at),
                members=tuple(members),
            )
        )
    return views


def stored_items(conn: Connection, *, since: datetime | None = None) -> list[DedupeItem]:
    """Every stored item (first seen since `since`) as the dedupe stage sees it."""
    query = select(*_ITEM_COLUMNS).join(sources, sources.c.id == items.c.source_id)
    if since is not None:
        query = query.where(items.c.first_seen >= to_db(since))
    return [_dedupe_item(row) for row in conn.execute(query.order_by(items.c.id))]


def stored_clusters(conn: Connection, *, since: datetime | None = None) -> dict[int, int]:
    """item id -> stored cluster id, for the items `stored_items` returns."""
    query = select(items.c.id, items.c.cluster_id)
    if since is not None:
        query = query.where(items.c.first_seen >= to_db(since))
    return {int(r.id): int(r.cluster_id) for r in conn.execute(query) if r.cluster_id is not None}


__all__ = [
    "ClusterChanges",
    "ClusterMember",
    "ClusterView",
    "SqlCandidateIndex",
    "assign_clusters",
    "list_clusters",
    "stored_clusters",
    "stored_items",
]
