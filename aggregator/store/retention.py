"""Pruning in SQL: delete the items the retention policy lets go, leave tombstones, keep
clusters consistent, and give the disk space back.

One write transaction, in batches of ids:

1. a tombstone per item (source, identity, canonical URL, when), so a feed that still lists
   the item does not bring it back as new (`store/items.save` skips tombstoned identities);
2. the items themselves. Their tags, revisions, LSH buckets and digest rows go with them
   through ``ON DELETE CASCADE`` (SQLite enforces it: engine.py turns foreign_keys on), and
   the full-text index through its delete trigger;
3. the clusters that lost members: deleted when empty, else their size and primary item
   recomputed with the dedupe stage's one primary rule.

Space: SQLite databases created since auto_vacuum=INCREMENTAL (engine.py) give their free
pages back with ``PRAGMA incremental_vacuum``; older ones get one full ``VACUUM``, which also
switches them to incremental. PostgreSQL gets ``VACUUM (ANALYZE)`` of the tables touched:
it makes the space reusable without the exclusive lock of ``VACUUM FULL``. Both run outside
a transaction, as they must.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy.exc
from sqlalchemy import Engine, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from aggregator.dedupe.cluster import choose_primary
from aggregator.dedupe.records import Member
from aggregator.errors import StoreError
from aggregator.models import OrgKind
from aggregator.retention import Cutoffs
from aggregator.store.conflicts import retrying, store_error
from aggregator.store.engine import WRITE_OPTION, describe, masked
from aggregator.store.schema import clusters, digest_items, digests, items, sources, tombstones
from aggregator.store.timestamps import from_db, to_db

CHUNK = 500  # ids per IN (...) list

# Tables whose rows pruning deletes, directly or by cascade: what PostgreSQL vacuums.
PRUNED_TABLES = (
    "items",
    "item_tags",
    "item_revisions",
    "digest_items",
    "clusters",
    "tombstones",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneResult:
    items: int  # deleted (or, on a dry run, that would be)
    clusters_deleted: int
    clusters_updated: int
    dry_run: bool
    vacuum: str | None = None  # what was run to give space back, if anything


def _chunks(values: Sequence[int]) -> list[Sequence[int]]:
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


def prunable_ids(conn: Connection, cutoffs: Cutoffs) -> list[int]:
    """Ids of the items the policy lets go (see aggregator/retention.py), in id order."""
    shown_recently = (
        select(digest_items.c.item_id)
        .join(digests, digests.c.id == digest_items.c.digest_id)
        .where(digests.c.created_at >= to_db(cutoffs.shown_since))
    )
    query = (
        select(items.c.id)
        .where(items.c.first_seen < to_db(cutoffs.seen_before), items.c.id.not_in(shown_recently))
        .order_by(items.c.id)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def _tombstone(conn: Connection, ids: Sequence[int], *, now: datetime) -> None:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(tombstones).from_select(
        ["source_id", "identity", "canonical_url", "pruned_at"],
        select(
            items.c.source_id,
            items.c.identity,
            items.c.canonical_url,
            literal(to_db(now), type_=tombstones.c.pruned_at.type),
        ).where(items.c.id.in_(ids)),
    )
    # A tombstone may already exist if an item was pruned, then stored again by hand.
    conn.execute(stmt.on_conflict_do_nothing())


def _repair_clusters(
    conn: Connection, cluster_ids: Sequence[int], *, now: datetime
) -> tuple[int, int]:
    """Delete emptied clusters; recompute size and primary of the others. (deleted, updated)"""
    deleted = updated = 0
    for part in _chunks(sorted(set(cluster_ids))):
        members: dict[int, list[Member]] = {cid: [] for cid in part}
        rows = conn.execute(
            select(items.c.id, items.c.cluster_id, items.c.published, sources.c.org)
            .join(sources, sources.c.id == items.c.source_id)
            .where(items.c.cluster_id.in_(part))
        )
        for row in rows:
            members[int(row.cluster_id)].append(
                Member(key=int(row.id), org=OrgKind(row.org), published=from_db(row.published))
            )
        empty = [cid for cid, found in members.items() if not found]
        if empty:
            conn.execute(delete(clusters).where(clusters.c.id.in_(empty)))
            deleted += len(empty)
        for cid, found in members.items():
            if found:
                primary = choose_primary(found).key
                conn.execute(
                    update(clusters)
                    .where(clusters.c.id == cid)
                    .values(primary_item_id=primary, size=len(found), updated_at=to_db(now))
                )
                updated += 1
    return deleted, updated


def delete_items(conn: Connection, ids: Sequence[int], *, now: datetime) -> tuple[int, int]:
    """Tombstone and delete the items, then repair their clusters. (deleted, updated) clusters."""
    touched: list[int] = []
    for part in _chunks(ids):
        touched.extend(
            int(c)
            for c in conn.execute(
                select(items.c.cluster_id).where(
                    items.c.id.in_(part), items.c.cluster_id.is_not(None)
                )
            ).scalars()
        )
        _tombstone(conn, part, now=now)
        conn.execute(delete(items).where(items.c.id.in_(part)))
    return _repair_clusters(conn, touched, now=now)


def reclaim_space(engine: Engine) -> str:
    """Give freed pages back to the file system; returns what it ran."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(PRUNED_TABLES)}")
        return "VACUUM (ANALYZE)"
    # The raw DB-API connection: VACUUM cannot run in a transaction, and SQLAlchemy's
    # connection would begin one (engine.py issues BEGIN on every SQLAlchemy transaction).
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        mode = cursor.execute("PRAGMA auto_vacuum").fetchone()
        if mode is not None and mode[0] == 2:  # INCREMENTAL
            # executescript runs the pragma to its end; execute() steps it once, which
            # frees a single page.
            cursor.executescript("PRAGMA incremental_vacuum;")
            ran = "PRAGMA incremental_vacuum"
        else:
            # A file made before the pragma was set (engine.py sets it on new files only):
            # this full VACUUM converts it, and later prunes vacuum incrementally.
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("VACUUM")
            ran = "VACUUM"
        # The freed pages leave the file at the next checkpoint; take it now.
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        cursor.close()
    except sqlite3.Error as exc:
        raise StoreError(f"vacuum failed on {masked(engine.url)}: {describe(exc)}") from exc
    finally:
        raw.close()
    return ran


def prune(engine: Engine, cutoffs: Cutoffs, *, now: datetime, dry_run: bool = False) -> PruneResult:
    """Delete what `cutoffs` let go (nothing on a dry run) and give the space back. Tried
    again whole when a refresh's transaction got in its way (store/conflicts.py)."""
    try:
        return retrying(lambda: _prune(engine, cutoffs, now=now, dry_run=dry_run))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise store_error(f"prune failed on {masked(engine.url)}: {describe(exc)}", exc) from exc


def _prune(engine: Engine, cutoffs: Cutoffs, *, now: datetime, dry_run: bool) -> PruneResult:
    writer = engine.execution_options(**{WRITE_OPTION: True})
    with writer.connect() as conn:
        transaction = conn.begin()
        try:
            ids = prunable_ids(conn, cutoffs)
            # A dry run deletes too, and rolls back: what it reports of the clusters is
            # what the real run will do, not a guess.
            deleted, updated = delete_items(conn, ids, now=now) if ids else (0, 0)
        except BaseException:
            transaction.rollback()
            raise
        if dry_run or not ids:
            transaction.rollback()
            return PruneResult(
                items=len(ids),
                clusters_deleted=deleted,
                clusters_updated=updated,
                dry_run=dry_run,
            )
        transaction.commit()
    vacuum = reclaim_space(engine)
    return PruneResult(
        items=len(ids),
        clusters_deleted=deleted,
        clusters_updated=updated,
        dry_run=False,
        vacuum=vacuum,
    )


def tombstone_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tombstones)).scalar_one())


__all__ = [
    "PRUNED_TABLES",
    "PruneResult",
    "delete_items",
    "prunable_ids",
    "prune",
    "reclaim_space",
    "tombstone_count",
]
