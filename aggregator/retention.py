"""Retention policy: which stored items may be deleted, given the time and the settings.

Pure: no SQL and no clock. An item is prunable when both hold:

- it was first seen more than `retention.keep_days` days ago (first seen, not published:
  an old document found late is kept as long as a new one), and
- no digest created in the last `retention.keep_digest_days` days showed it, so a reader
  following a link from a recent digest never finds it gone.

`store/retention.py` turns the same two cut-offs into SQL; tests check both agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.settings import RetentionSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class Cutoffs:
    seen_before: datetime  # items first seen before this may go ...
    shown_since: datetime  # ... unless a digest created at or after this showed them


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPolicy:
    keep_days: int
    keep_digest_days: int

    @classmethod
    def from_settings(cls, settings: RetentionSettings) -> RetentionPolicy:
        return cls(keep_days=settings.keep_days, keep_digest_days=settings.keep_digest_days)

    def cutoffs(self, now: datetime) -> Cutoffs:
        if now.tzinfo is None:
            raise ValueError(f"naive datetime given as now: {now!r}")
        return Cutoffs(
            seen_before=now - timedelta(days=self.keep_days),
            shown_since=now - timedelta(days=self.keep_digest_days),
        )


def is_prunable(first_seen: datetime, shown_at: Iterable[datetime], cutoffs: Cutoffs) -> bool:
    """`shown_at`: when each digest that showed the item was created."""
    if first_seen >= cutoffs.seen_before:
        return False
    return all(created < cutoffs.shown_since for created in shown_at)


__all__ = ["Cutoffs", "RetentionPolicy", "is_prunable"]
