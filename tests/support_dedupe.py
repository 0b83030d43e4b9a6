"""Rows as the store writes them (each new item with a cluster of its own), for dedupe tests
and the dedupe benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from aggregator.dedupe.records import DedupeItem
from aggregator.store.schema import clusters, items, sources
from aggregator.store.timestamps import to_db


def add_sources(conn: Connection, orgs: dict[str, str]) -> None:
    conn.execute(
        insert(sources),
        [
            {
                "id": source_id,
                "name": source_id,
                "kind": "feed",
                "org": org,
                "config_url": f"https://{source_id}.example.org/feed",
                "url": f"https://{source_id}.example.org/feed",
                "enabled": True,
                "consecutive_failures": 0,
                "ever_yielded": True,
            }
            for source_id, org in orgs.items()
        ],
    )


def store_items(conn: Connection, batch: Sequence[DedupeItem], *, now: datetime) -> list[int]:
    """Insert items the way save_refresh does: a singleton cluster each, primary = itself."""
    stamp = to_db(now)
    ids = []
    for it in batch:
        cluster_id = conn.execute(
            insert(clusters)
            .values(size=1, created_at=stamp, updated_at=stamp)
            .returning(clusters.c.id)
        ).scalar_one()
        item_id = conn.execute(
            insert(items)
            .values(
                source_id=it.source_id,
                identity=str(it.key),
                url=it.canonical_url,
                canonical_url=it.canonical_url,
                title=it.title,
                summary=it.text[:200],
                text=it.text,
                published=to_db(it.published),
                published_is_fallback=False,
                content_hash=f"v1:{it.key}",
                first_seen=to_db(it.first_seen or now),
                last_changed=stamp,
                revision=1,
                cluster_id=cluster_id,
            )
            .returning(items.c.id)
        ).scalar_one()
        conn.execute(
            update(clusters).where(clusters.c.id == cluster_id).values(primary_item_id=item_id)
        )
        ids.append(int(item_id))
    return ids


def cluster_ids(conn: Connection) -> dict[str, int]:
    """identity -> cluster id of every stored item."""
    return {
        r.identity: r.cluster_id for r in conn.execute(select(items.c.identity, items.c.cluster_id))
    }
