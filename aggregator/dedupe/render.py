"""Renderings of stored clusters for `aggregator clusters [--since ...] [--json]`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aggregator.store.clusters import ClusterView


def clusters_json(views: Sequence[ClusterView]) -> list[dict[str, Any]]:
    """The documented JSON shape: one object per cluster, members primary first."""
    return [
        {
            "id": v.id,
            "primary_item_id": v.primary_item_id,
            "size": v.size,
            "updated_at": v.updated_at.isoformat(),
            "members": [
                {
                    "item_id": m.item_id,
                    "source_id": m.source_id,
                    "org": m.org.value,
                    "title": m.title,
                    "url": m.url,
                    "published": m.published.isoformat(),
                    "primary": m.primary,
                }
                for m in v.members
            ],
        }
        for v in views
    ]


def clusters_text(views: Sequence[ClusterView]) -> str:
    """Plain text: a line per cluster, an indented line per member, the primary starred."""
    lines = []
    for v in views:
        items = f"{v.size} item{'s' * (v.size != 1)}"
        lines.append(f"cluster {v.id} ({items}, updated {v.updated_at:%Y-%m-%d %H:%M})")
        for m in v.members:
            mark = "*" if m.primary else " "
            lines.append(
                f"  {mark} {m.published:%Y-%m-%d} {m.source_id} [{m.org.value}] {m.title} <{m.url}>"
            )
    return "\n".join(lines) if lines else "no clusters"
