"""When to fetch a source next. Pure: the caller passes the clock and the randomness.

The configured interval is the starting point. It is
- adapted to the source's posting rhythm (a source that posts every few days is not asked
  every hour; one that posts hourly is asked as often as configured), clamped between the
  `schedule.min_interval` and `schedule.max_interval` settings;
- never earlier than the server allows: Cache-Control max-age / Expires, an RSS <ttl>, and a
  Retry-After all move the next fetch later, never earlier;
- after failures, backed off exponentially with jitter (so a fleet of failing sources does
  not retry in lock-step), capped at `schedule.max_backoff`. A failing source is never given
  up on: it stays due at the cap and stays visible in health.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise


@dataclass(frozen=True, slots=True, kw_only=True)
class CadencePolicy:
    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(days=1)
    max_backoff: timedelta = timedelta(hours=12)


def posting_interval(published: Sequence[datetime]) -> timedelta | None:
    """The median gap between recent posts, or None when there are too few to tell."""
    stamps = sorted(set(published), reverse=True)[:20]
    if len(stamps) < 4:
        return None
    gaps = sorted(newer - older for newer, older in pairwise(stamps))
    return gaps[len(gaps) // 2]


def next_fetch_after_success(
    *,
    now: datetime,
    interval: timedelta,
    policy: CadencePolicy,
    rhythm: timedelta | None = None,
    fresh_until: datetime | None = None,
    ttl: timedelta | None = None,
) -> datetime:
    """The next fetch time after a fetch that succeeded (new items or not modified)."""
    wait = interval
    if rhythm is not None and rhythm > interval:
        # Half the posting gap keeps the expected delay for a new post under the gap.
        wait = max(interval, rhythm / 2)
    wait = max(policy.min_interval, min(wait, policy.max_interval))
    # The server's own word only ever delays us; it never makes us fetch more often.
    if ttl is not None:
        wait = max(wait, min(ttl, policy.max_interval))
    when = now + wait
    if fresh_until is not None and fresh_until > when:
        when = min(fresh_until, now + policy.max_interval)
    return when


def next_fetch_after_failure(
    *,
    now: datetime,
    interval: timedelta,
    failures: int,
    policy: CadencePolicy,
    retry_at: datetime | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """The next fetch time after the `failures`-th consecutive failure (1 for the first)."""
    rng = rng or random.Random()
    base = max(policy.min_interval, min(interval, policy.max_backoff))
    exponent = min(max(failures - 1, 0), 16)  # 2**16 intervals is beyond any cap anyway
    backoff = min(base * (1 << exponent), policy.max_backoff)
    # "Equal jitter": between half and all of the backoff, so it never collapses to zero.
    wait = backoff / 2 + backoff / 2 * rng.random()
    when = now + wait
    if retry_at is not None and retry_at > when:
        # Honour Retry-After, but not beyond the longest wait we'd choose ourselves.
        longest: timedelta = max(policy.max_backoff, policy.max_interval)
        when = min(retry_at, now + longest)
    return when
