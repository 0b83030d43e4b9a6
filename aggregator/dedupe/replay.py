"""Re-cluster a stored database with the current thresholds; print what would change.

    python -m aggregator.dedupe.replay DATABASE_URL [--since 2024-01-01] [--window-days 30]

Reads every item (first seen since --since), clusters them from scratch in memory through
the same code as the live stage, and compares with the stored clusters: a *merge* is a new
cluster that spans several stored ones, a *split* a stored cluster that falls apart. Writes
nothing. Run it after changing thresholds.py to see what the change would do to real data.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aggregator.dedupe.cluster import cluster_items
from aggregator.dedupe.records import DedupeItem, Key
from aggregator.dedupe.thresholds import DEFAULT, Thresholds


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayMerge:
    stored_clusters: tuple[int, ...]  # would become one
    item_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaySplit:
    stored_cluster: int
    parts: tuple[tuple[int, ...], ...]  # item ids of each part


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    items: int
    merges: tuple[ReplayMerge, ...]
    splits: tuple[ReplaySplit, ...]

    @property
    def unchanged(self) -> bool:
        return not self.merges and not self.splits


def compare(
    items: Sequence[DedupeItem],
    stored: Mapping[int, int],
    *,
    window: timedelta | None = None,
    thresholds: Thresholds = DEFAULT,
) -> ReplayReport:
    """Cluster `items` afresh and compare with `stored` (item id -> stored cluster id)."""
    fresh: dict[Key, Key] = cluster_items(items, window=window, thresholds=thresholds)
    new_groups: defaultdict[Key, list[int]] = defaultdict(list)
    old_groups: defaultdict[int, list[int]] = defaultdict(list)
    for item in items:
        key = item.key
        assert isinstance(key, int)
        new_groups[fresh[key]].append(key)
        old_groups[stored.get(key, -key)].append(key)  # unclustered: a cluster of its own
    merges = []
    for members in new_groups.values():
        spanned = sorted({stored.get(i, -i) for i in members})
        if len(spanned) > 1:
            merges.append(
                ReplayMerge(stored_clusters=tuple(spanned), item_ids=tuple(sorted(members)))
            )
    splits = []
    for cluster, members in old_groups.items():
        parts: defaultdict[Key, list[int]] = defaultdict(list)
        for i in members:
            parts[fresh[i]].append(i)
        if len(parts) > 1:
            ordered = sorted(tuple(sorted(p)) for p in parts.values())
            splits.append(ReplaySplit(stored_cluster=cluster, parts=tuple(ordered)))
    return ReplayReport(
        items=len(items),
        merges=tuple(sorted(merges, key=lambda m: m.stored_clusters)),
        splits=tuple(sorted(splits, key=lambda s: s.stored_cluster)),
    )


def render(report: ReplayReport) -> str:
    lines = [
        f"replayed {report.items} items: {len(report.merges)} merges, "
        f"{len(report.splits)} splits would change"
    ]
    for m in report.merges:
        clusters = ", ".join(str(c) for c in m.stored_clusters)
        lines.append(f"merge clusters {clusters} (items {', '.join(map(str, m.item_ids))})")
    for s in report.splits:
        parts = " | ".join(", ".join(map(str, p)) for p in s.parts)
        lines.append(f"split cluster {s.stored_cluster} into {parts}")
    return "\n".join(lines)


def replay_database(
    database_url: str, *, since: datetime | None = None, window: timedelta | None = None
) -> ReplayReport:
    from aggregator.store.clusters import stored_clusters, stored_items
    from aggregator.store.engine import create_store_engine

    engine = create_store_engine(database_url)
    try:
        with engine.connect() as conn:
            items = stored_items(conn, since=since)
            stored = stored_clusters(conn, since=since)
    finally:
        engine.dispose()
    return compare(items, stored, window=window)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aggregator.dedupe.replay", description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("--since", type=datetime.fromisoformat, default=None)
    parser.add_argument("--window-days", type=int, default=DEFAULT.window.days)
    args = parser.parse_args(argv)
    since = args.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    report = replay_database(
        args.database_url, since=since, window=timedelta(days=args.window_days)
    )
    print(render(report))
    return 0 if report.unchanged else 1


if __name__ == "__main__":
    raise SystemExit(main())
