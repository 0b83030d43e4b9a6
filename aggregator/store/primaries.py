"""A cluster's primary item chosen again, after something the rule reads changed.

The rule (`dedupe.cluster.choose_primary`: official institutions first, then the earliest
published) is applied when clusters merge. A member's date corrected by its publisher, or a
source's `org` changed in the config, changes what the rule says without any merge: the
stored primary went stale (an NGO's copy stayed the primary beside the Council's release).
Callers import this module only when that happens: it brings the dedupe stage (numpy).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, bindparam, select, update

from aggregator.dedupe.cluster import choose_primary
from aggregator.dedupe.records import Member
from aggregator.models import OrgKind
from aggregator.store.items import chunks
from aggregator.store.schema import clusters, items, sources
from aggregator.store.timestamps import from_db, to_db


def clusters_of(conn: Connection, item_ids: Iterable[int]) -> set[int]:
    """The clusters of more than one item that hold any of the given items."""
    found: set[int] = set()
    for part in chunks(sorted(set(item_ids))):
        found |= _shared_clusters(conn, items.c.id.in_(part))
    return found


def clusters_of_sources(conn: Connection, source_ids: Iterable[str]) -> set[int]:
    """The clusters of more than one item that hold an item of any of the given sources."""
    wanted = sorted(set(source_ids))
    return _shared_clusters(conn, items.c.source_id.in_(wanted)) if wanted else set()


def _shared_clusters(conn: Connection, holding: ColumnElement[bool]) -> set[int]:
    """The clusters of more than one item with an item that meets `holding`."""
    return set(
        conn.execute(
            select(items.c.cluster_id)
            .join(clusters, clusters.c.id == items.c.cluster_id)
            .where(holding, clusters.c.size > 1)
            .distinct()
        ).scalars()
    )


def choose_primaries_again(conn: Connection, cluster_ids: Iterable[int], *, now: datetime) -> int:
    """Apply the primary rule to each cluster's members as stored now; write the primaries
    that change. Returns how many changed."""
    members: dict[int, list[Member]] = {}
    stored: dict[int, int | None] = {}
    for part in chunks(sorted(set(cluster_ids))):
        rows = conn.execute(
            select(items.c.id, items.c.cluster_id, items.c.published, sources.c.org)
            .join(sources, sources.c.id == items.c.source_id)
            .where(items.c.cluster_id.in_(part))
        )
        for row in rows:
            members.setdefault(int(row.cluster_id), []).append(
                Member(key=int(row.id), org=OrgKind(row.org), published=from_db(row.published))
            )
        stored.update(
            (int(r.id), r.primary_item_id)
            for r in conn.execute(
                select(clusters.c.id, clusters.c.primary_item_id).where(clusters.c.id.in_(part))
            )
        )
    changed = [
        {"b_id": cluster_id, "b_primary": int(primary.key)}
        for cluster_id, found in sorted(members.items())
        if (primary := choose_primary(found)).key != stored.get(cluster_id)
    ]
    if changed:
        conn.execute(
            update(clusters)
            .where(clusters.c.id == bindparam("b_id"))
            .values(primary_item_id=bindparam("b_primary"), updated_at=to_db(now)),
            changed,
        )
    return len(changed)
